"""Query-parameter types the surfaces share, stricter than pydantic's defaults."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema


def _calendar_instant(value: Any) -> Any:
    """A date (``2026-11-29``, midnight UTC) or an ISO 8601 date-time; never a bare
    number, which pydantic would read as seconds since 1970."""
    if isinstance(value, datetime | date):
        return value
    text = str(value).strip()
    if not text or text.lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2026-11-29T09:00:00Z")
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time.min).isoformat() + "+00:00"
        except ValueError as exc:
            raise ValueError(f"not a calendar date: {text!r}") from exc
    return text


CalendarInstant = Annotated[
    datetime,
    BeforeValidator(_calendar_instant),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ]
        }
    ),
]


def like_literal(value: str) -> str:
    r"""``value`` with LIKE's wildcards escaped, for ``LIKE ... ESCAPE '\'``."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
