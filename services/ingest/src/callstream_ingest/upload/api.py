"""The upload surface: a recording streamed in, checked, stored and announced."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from callstream_common.db.models import Conversation
from callstream_ingest.auth import Principal
from callstream_ingest.bodies import UploadBody, read_multipart, read_raw, too_large
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.scope import ensure_may_upload_for
from callstream_ingest.state import IngestState
from callstream_ingest.upload.idempotency import digest_of, ensure_same_request, scoped_key
from callstream_ingest.upload.intake import CallDetails, accept_recording
from callstream_ingest.upload.metadata import REQUIRED_FIELDS, UploadMetadata, parse_metadata
from callstream_ingest.upload.service import previous_upload
from callstream_ingest.upload.sniff import sniff_audio

log = logging.getLogger(__name__)
upload_router = APIRouter()


def conversation_urls(request: Request, conversation_id: uuid.UUID) -> str:
    """From the configured public base URL: a client's ``Host`` header never shapes it."""
    path = request.app.url_path_for("get_conversation", conversation_id=conversation_id)
    return f"{state(request).settings.base_url()}{path}"


def sent_fields(request: Request, body: UploadBody) -> dict[str, list[str]]:
    """The metadata as sent: query parameters, overridden by form fields of the same name;
    every value of a repeated one (``participants``)."""
    query = {name: request.query_params.getlist(name) for name in request.query_params}
    return query | body.fields


async def checked_metadata(
    st: IngestState, fields: dict[str, list[str]], who: Principal
) -> UploadMetadata:
    meta = parse_metadata(fields, who)
    async with st.sessions() as session:
        await ensure_may_upload_for(session, who, meta.rep_id)
    return meta


def accepted(request: Request, conv: Conversation, replayed: bool = False) -> JSONResponse:
    return JSONResponse(
        {
            "id": str(conv.id),
            "status": conv.status,
            "status_url": conversation_urls(request, conv.id),
            "trace_id": conv.trace_id,
            "idempotent_replay": replayed,
        },
        status_code=202,
        headers={"Location": conversation_urls(request, conv.id)},
    )


@upload_router.post("/v1/conversations", status_code=202)
async def upload_conversation(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    st = state(request)
    limit = st.settings.max_upload_bytes
    scoped = scoped_key(who.credential_id, idempotency_key) if idempotency_key else None
    previous = await previous_upload(st.unit_of_work, scoped) if scoped else None

    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) == 0:
            raise ApiError(400, "empty_body", "the request has no recording")
        if int(declared) > limit + 64 * 1024:
            raise too_large(limit)

    content_type = request.headers.get("content-type", "")
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the recording as multipart/form-data (field 'file') or as a raw body",
        )
    body: UploadBody
    length: int | None = None
    if ctype == "multipart/form-data":
        body = await read_multipart(request.stream(), content_type, limit)
    else:
        body = await read_raw(request.stream(), limit)
        if (
            declared is not None
            and declared.isdigit()
            and "transfer-encoding" not in request.headers
        ):
            length = int(declared)
    if not body.head:
        raise ApiError(400, "empty_body", "the recording is empty")
    fmt = sniff_audio(body.head)
    if fmt is None:
        raise ApiError(
            415,
            "not_audio",
            "the content is not a recognised audio container "
            "(wav, mp3, ogg, flac, m4a/mp4, webm, aac, aiff, amr)",
        )
    # Metadata in the query string (raw uploads) or before the file part is checked
    # before a byte is stored; fields after the file part are checked once it is read.
    early = sent_fields(request, body)
    early_meta: UploadMetadata | None = None
    if all(
        f in early
        or (f == "rep_id" and who.rep_id)
        or (f == "opportunity_name" and "opportunity_id" in early)
        for f in REQUIRED_FIELDS
    ):
        early_meta = await checked_metadata(st, early, who)
    if previous is not None:
        sha256, _ = await digest_of(body.head, body.rest)
        meta = await checked_metadata(st, sent_fields(request, body), who)
        ensure_same_request(previous, meta, sha256)
        return accepted(request, previous, replayed=True)

    async def details() -> CallDetails:
        """Checked again only if fields came after the file part (multipart)."""
        fields = sent_fields(request, body)
        meta = early_meta if early_meta is not None and fields == early else None
        meta = meta or await checked_metadata(st, fields, who)
        return CallDetails(**meta.model_dump())

    conv, replayed = await accept_recording(
        st,
        head=body.head,
        rest=body.rest,
        fmt=fmt,
        details=details,
        filename=body.filename,
        idempotency_key=scoped,
        who=who,
        same_request=ensure_same_request,
        length=length,
    )
    if not replayed:
        log.info("accepted conversation %s (%d bytes, %s)", conv.id, conv.size_bytes, fmt.name)
    return accepted(request, conv, replayed=replayed)
