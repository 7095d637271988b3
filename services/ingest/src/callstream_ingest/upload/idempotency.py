"""``Idempotency-Key`` as payment APIs have it: a key belongs to the credential that sent
it, and a retry must be the same request. Another credential's identical key is a
different key; the same key with other metadata or other bytes is refused with 422
(``idempotency_key_reused``) rather than answered with the first call.

Keys are stored as SHA-256 of (credential, key), so they fit the existing column and a
key read from the database reveals nothing about the client's own value."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

from callstream_common.db.models import Conversation
from callstream_ingest.errors import ApiError
from callstream_ingest.upload.intake import CallDetails
from callstream_ingest.upload.metadata import UploadMetadata

COMPARED = (
    "opportunity_name",
    "company_name",
    "rep_id",
    "title",
    "conversation_date",
    "participants",
    "priority",
)


def scoped_key(credential_id: uuid.UUID, key: str) -> str:
    return hashlib.sha256(f"{credential_id}\n{key}".encode()).hexdigest()


async def digest_of(head: bytes, rest: AsyncIterator[bytes]) -> tuple[str, int]:
    """SHA-256 and size of a body read to its end without storing it."""
    digest, size = hashlib.sha256(head), len(head)
    async for chunk in rest:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def differences(
    previous: Conversation, meta: UploadMetadata | CallDetails, sha256: str
) -> list[str]:
    """What differs between the first request with a key and this one (pure)."""
    differs = [
        name
        for name in COMPARED
        if (getattr(previous, name) or None) != (getattr(meta, name) or None)
    ]
    if previous.sha256 != sha256:
        differs.append("content")
    return differs


def ensure_same_request(
    previous: Conversation, meta: UploadMetadata | CallDetails, sha256: str
) -> None:
    differs = differences(previous, meta, sha256)
    if differs:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
            {"differs": differs},
        )
