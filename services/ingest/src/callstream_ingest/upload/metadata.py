"""The metadata of an upload (form fields or query parameters), checked before a byte of
the recording is stored when it arrives first."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from callstream_common.db.models import Role
from callstream_ingest.auth import Principal
from callstream_ingest.errors import ApiError

MAX_PARTICIPANTS = 20
MAX_PARTICIPANT_CHARS = 120
MULTI_VALUED = frozenset({"participants"})
"""Fields sent once per value (``participants=Ann&participants=Bob``); of any other field
repeated, the last value counts."""
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def is_control(char: str) -> bool:
    """A control character (C0, C1, DEL), a line or paragraph separator, or a
    bidirectional override: each makes a name display as something else, or break."""
    return unicodedata.category(char) in CONTROL_CATEGORIES or char in BIDI_CONTROLS


def printable_name(value: str) -> str:
    """A name that goes into Whisper's prompt and onto pages: no control characters (C0,
    C1, DEL), line or paragraph separators, or bidirectional overrides that would make it
    display as something else."""
    for char in value:
        if is_control(char):
            raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


def shown_text(value: str) -> str:
    """:func:`printable_name`, with something to show: a deal named only with zero-width
    or other format characters would be a link with no text on every page."""
    printable_name(value)
    if value and not shows_something(value):
        raise ValueError("must contain a visible character")
    return value


def shows_something(text: str) -> bool:
    """A letter, digit, punctuation or symbol: not only spaces and format characters."""
    return any(unicodedata.category(char)[0] in "LNPS" for char in text)


def displayable(text: str, fallback: str, limit: int = 300) -> str:
    """``text`` without the characters :func:`shown_text` refuses (control and
    bidirectional ones), trimmed to ``limit``; ``fallback`` when nothing visible is left.
    For names that come from elsewhere (a file's title in Slack), where refusing the
    whole recording over its title would lose the call."""
    kept = "".join(char for char in text if not is_control(char)).strip()[:limit]
    return kept if shows_something(kept) else fallback


ParticipantName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_PARTICIPANT_CHARS),
    AfterValidator(printable_name),
]


class UploadMetadata(BaseModel):
    """Form fields (multipart) or query parameters (raw body) describing the call."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    opportunity_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    opportunity_id: uuid.UUID | None = None
    company_name: Annotated[str, Field(max_length=300)] | None = None
    rep_id: Annotated[str, Field(min_length=1, max_length=128)]
    title: Annotated[str, Field(max_length=300)] | None = None
    conversation_date: date | None = None
    participants: Annotated[
        list[ParticipantName],
        Field(
            max_length=MAX_PARTICIPANTS,
            description="Names of the people on the call (custom vocabulary for the "
            "transcript): repeat the field once per name, at most 20 names of at most "
            "120 characters, no control characters.",
        ),
    ] = []
    priority: Annotated[int, Field(ge=0, le=10)] = 5
    not_before: datetime | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None

    @field_validator("opportunity_name", "company_name", "rep_id", "title")
    @classmethod
    def _shown(cls, value: str | None) -> str | None:
        """Each is shown on pages and in Slack, and the names go into Whisper's prompt."""
        return value if value is None else shown_text(value)

    @field_validator("participants")
    @classmethod
    def _each_once(cls, names: list[str]) -> list[str]:
        """The same person named twice (in any case) is one participant: the first spelling."""
        first: dict[str, str] = {}
        for name in names:
            first.setdefault(name.casefold(), name)
        return list(first.values())


REQUIRED_FIELDS = ("opportunity_name", "rep_id")


def form_data(fields: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Every value of a multi-valued field (blank ones dropped), the last of any other
    (an empty value counts as not given)."""
    data: dict[str, Any] = {}
    for name, values in fields.items():
        if name in MULTI_VALUED:
            kept = [v for v in values if v.strip()]
            if kept:
                data[name] = kept
        elif values and values[-1] != "":
            data[name] = values[-1]
    return data


def parse_metadata(fields: Mapping[str, Sequence[str]], who: Principal) -> UploadMetadata:
    data = form_data(fields)
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
        named = ", ".join(dict.fromkeys(p["field"] for p in problems))
        raise ApiError(
            422, "invalid_metadata", f"the metadata is not valid: {named}", {"problems": problems}
        ) from exc
    if who.role == Role.USER and meta.rep_id != who.rep_id:
        raise ApiError(403, "forbidden", "a user may upload only their own calls")
    return meta
