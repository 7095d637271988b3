"""The query of the conversations list and its keyset cursor.

A cursor is bound to the filters, the sort and the caller's scope it was issued for: a
cursor from another query (or tampered with) is refused with 422 instead of silently
paging through something else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from callstream_common.contracts import QualificationStatus
from callstream_common.db.models import ConversationStatus
from callstream_common.reads.scope import Scope, ScopeKind

MAX_LIMIT = 100
MAX_QUERY_CHARS = 200


class Sort(StrEnum):
    NEWEST = "newest"
    SCORE = "score"


class HitRole(StrEnum):
    """Whose tracker hits count for the ``tracker`` filter."""

    PROSPECT = "prospect"
    REP = "rep"


class CursorError(ValueError):
    """A cursor that is malformed or was issued for another query."""


class ConversationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    status: ConversationStatus | None = None
    rep_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    team_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    opportunity_id: uuid.UUID | None = None
    qualification_status: QualificationStatus | None = None
    min_score: Annotated[float, Field(ge=1, le=5)] | None = None
    max_score: Annotated[float, Field(ge=1, le=5)] | None = None
    date_from: datetime | None = Field(default=None, alias="from")
    date_to: datetime | None = Field(default=None, alias="to")
    q: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)] | None = None
    tracker: Annotated[str, Field(min_length=1, max_length=80)] | None = Field(
        default=None,
        description="A tracker's name or id: only calls whose current analysis has at "
        "least one hit of it (unknown: 422).",
    )
    speaker_role: HitRole | None = Field(
        default=None,
        description="With `tracker`: only hits said by the prospect (or by the rep) count.",
    )
    sort: Sort = Sort.NEWEST
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 25
    cursor: Annotated[str, Field(max_length=512)] | None = None

    @field_validator("max_score")
    @classmethod
    def _score_range(cls, v: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_score")
        if v is not None and low is not None and v < low:
            raise ValueError("max_score is below min_score")
        return v

    @field_validator("date_to")
    @classmethod
    def _date_range(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("date_from")
        if v is not None and start is not None and _naive(v) < _naive(start):
            raise ValueError("'to' is before 'from'")
        return v

    @field_validator("speaker_role")
    @classmethod
    def _role_needs_tracker(cls, v: HitRole | None, info: ValidationInfo) -> HitRole | None:
        if v is not None and info.data.get("tracker") is None:
            raise ValueError("speaker_role narrows a tracker filter: give tracker too")
        return v

    def within(self, scope: Scope) -> ConversationQuery:
        """The same query without a filter the scope already applies (a user asking for their
        own rep's calls), so both spellings share one cache entry and one cursor binding."""
        if scope.kind == ScopeKind.REP and self.rep_id is not None and self.rep_id == scope.rep_id:
            return self.model_copy(update={"rep_id": None})
        return self

    def fingerprint(self, scope_key: str) -> str:
        """What a cursor is bound to: every filter, the sort and the scope (not the page)."""
        data = self.model_dump(mode="json", exclude={"cursor", "limit"})
        raw = json.dumps([scope_key, data], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo is None else value


def encode_cursor(fingerprint: str, sort: Sort, last_value: Any, last_id: uuid.UUID) -> str:
    """The position after the last item of a page, as an opaque url-safe token."""
    if isinstance(last_value, datetime):
        last_value = last_value.isoformat()
    raw = json.dumps({"f": fingerprint, "s": sort.value, "v": last_value, "i": str(last_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, fingerprint: str, sort: Sort) -> tuple[Any, uuid.UUID]:
    """The (sort value, id) a cursor points after; CursorError when it is not ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict):
            raise CursorError("cursor is malformed")
        found_fp, found_sort, value, ident = data["f"], data["s"], data["v"], data["i"]
        last_id = uuid.UUID(ident)
    except CursorError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise CursorError("cursor is malformed") from exc
    if found_fp != fingerprint or found_sort != sort.value:
        raise CursorError("cursor belongs to another query (filters, sort or caller differ)")
    if sort == Sort.NEWEST:
        try:
            return datetime.fromisoformat(value), last_id
        except (TypeError, ValueError) as exc:
            raise CursorError("cursor is malformed") from exc
    if not isinstance(value, int | float):
        raise CursorError("cursor is malformed")
    return float(value), last_id
