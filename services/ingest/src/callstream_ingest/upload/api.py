"""The upload surface: a recording streamed in, checked, stored and announced."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callstream_common.db.models import Conversation, Role
from callstream_ingest.auth import Principal
from callstream_ingest.bodies import UploadBody, read_multipart, read_raw, too_large
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.upload.intake import CallDetails, accept_recording
from callstream_ingest.upload.sniff import sniff_audio

log = logging.getLogger(__name__)
upload_router = APIRouter()


class UploadMetadata(BaseModel):
    """Form fields (multipart) or query parameters (raw body) describing the call."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    opportunity_name: Annotated[str, Field(min_length=1, max_length=300)]
    company_name: Annotated[str, Field(max_length=300)] | None = None
    rep_id: Annotated[str, Field(min_length=1, max_length=128)]
    title: Annotated[str, Field(max_length=300)] | None = None
    conversation_date: date | None = None
    priority: Annotated[int, Field(ge=0, le=10)] = 5
    not_before: datetime | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None


REQUIRED_FIELDS = ("opportunity_name", "rep_id")


def parse_metadata(fields: dict[str, str], who: Principal) -> UploadMetadata:
    data: dict[str, Any] = {k: v for k, v in fields.items() if v != ""}
    if "rep_id" not in data and who.rep_id:
        data["rep_id"] = who.rep_id
    missing = [f for f in REQUIRED_FIELDS if f not in data]
    if missing:
        raise ApiError(
            422,
            "missing_metadata",
            f"missing required metadata: {', '.join(missing)}",
            {"missing": missing},
        )
    try:
        meta = UploadMetadata.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise ApiError(
            422, "invalid_metadata", "the metadata is not valid", {"problems": problems}
        ) from exc
    if who.role == Role.USER and meta.rep_id != who.rep_id:
        raise ApiError(403, "forbidden", "a user may upload only their own calls")
    return meta


def conversation_urls(request: Request, conversation_id: uuid.UUID) -> str:
    return str(request.url_for("get_conversation", conversation_id=conversation_id))


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
    if idempotency_key:
        existing = await st.find_by_idempotency_key(idempotency_key)
        if existing is not None:
            return accepted(request, existing, replayed=True)

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
    if ctype == "multipart/form-data":
        body = await read_multipart(request.stream(), content_type, limit)
    else:
        body = await read_raw(request.stream(), limit)
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
    early = dict(request.query_params) | body.fields
    if all(f in early or (f == "rep_id" and who.rep_id) for f in REQUIRED_FIELDS):
        parse_metadata(early, who)

    def details() -> CallDetails:
        meta = parse_metadata(dict(request.query_params) | body.fields, who)
        return CallDetails(**meta.model_dump())

    conv, replayed = await accept_recording(
        st,
        head=body.head,
        rest=body.rest,
        fmt=fmt,
        details=details,
        filename=body.filename,
        idempotency_key=idempotency_key,
        created_by=who.credential_id,
    )
    if not replayed:
        log.info("accepted conversation %s (%d bytes, %s)", conv.id, conv.size_bytes, fmt.name)
    return accepted(request, conv, replayed=replayed)
