"""Running one read statement: the query functions want its rows as mappings, or the one
value of an aggregate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import MappingResult, text
from sqlalchemy.ext.asyncio import AsyncSession


async def mapped(session: AsyncSession, sql: str, params: Mapping[str, Any]) -> MappingResult:
    """The rows of ``sql`` (bound with ``params``) as column-name mappings."""
    return (await session.execute(text(sql), params)).mappings()


async def single(session: AsyncSession, sql: str, params: Mapping[str, Any]) -> Any:
    """The one value of ``sql``, a statement of one row and one column (an aggregate)."""
    return (await session.execute(text(sql), params)).scalar_one()
