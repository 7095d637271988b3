"""The commands' way into PostgreSQL: one transaction on an engine of its own (a command
runs once and exits, so it keeps no pool)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from callstream_common.db.engine import make_sessionmaker

T = TypeVar("T")


async def in_transaction(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work``'s result, committed (rolled back if it raises)."""
    engine = create_async_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()
