"""The metadata of an upload (form fields or query parameters), checked before a byte of
the recording is stored when it arrives first."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callstream_common.db.models import Role
from callstream_ingest.auth import Principal
from callstream_ingest.errors import ApiError


class UploadMetadata(BaseModel):
    """Form fields (multipart) or query parameters (raw body) describing the call."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    opportunity_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    opportunity_id: uuid.UUID | None = None
    company_name: Annotated[str, Field(max_length=300)] | None = None
    rep_id: Annotated[str, Field(min_length=1, max_length=128)]
    title: Annotated[str, Field(max_length=300)] | None = None
    conversation_date: date | None = None
    priority: Annotated[int, Field(ge=0, le=10)] = 5
    not_before: datetime | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None

    @field_validator("opportunity_name", "company_name", "rep_id", "title")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain a NUL byte")
        return value


REQUIRED_FIELDS = ("opportunity_name", "rep_id")


def parse_metadata(fields: dict[str, str], who: Principal) -> UploadMetadata:
    data: dict[str, Any] = {k: v for k, v in fields.items() if v != ""}
    if "rep_id" not in data and who.rep_id:
        data["rep_id"] = who.rep_id
    missing = [
        f
        for f in REQUIRED_FIELDS
        if f not in data and not (f == "opportunity_name" and "opportunity_id" in data)
    ]
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
