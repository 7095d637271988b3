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


async def one_snapshot(session: AsyncSession) -> None:
    """Let every later statement of ``session``'s transaction see the same committed state.

    PostgreSQL's default (read committed) takes a new snapshot for each statement, so a
    read made of several statements can mix two states: a re-analysis committed between
    them shows the version it archived beside the analysis it replaced. Repeatable read
    takes one snapshot for the whole transaction. A session already in a transaction keeps
    the isolation its caller chose."""
    if not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
