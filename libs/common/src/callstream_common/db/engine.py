"""Async engine and sessions; one engine per process.

A pooled connection is checked at checkout without a round trip while it is in steady
use: PostgreSQL closes its connections when it restarts, and the driver notices the
closed socket by itself, so a connection the server closed is replaced before a statement
is sent on it. Only a connection that sat idle longer than :data:`IDLE_PING_SECONDS` (when
a silent network drop is plausible) is pinged first. SQLAlchemy's ``pool_pre_ping`` pinged
on every checkout instead: with asyncpg a ping is three round trips (BEGIN, an empty
statement, ROLLBACK), once per transaction, on the pipeline's cheapest path. A connection
that dies anyway between the check and its use fails that statement; SQLAlchemy then
invalidates every older connection of the pool, and the stage's retry (or the client's,
for an HTTP request) runs on a fresh one.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from callstream_common.settings import CommonSettings

IDLE_PING_SECONDS = 10.0
"""A connection idle in the pool longer than this is pinged before it is handed out."""
_CHECKED_IN = "callstream_checked_in_at"


def make_engine(settings: CommonSettings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.database_pool_size,
        pool_recycle=300,
    )
    event.listen(engine.sync_engine.pool, "checkin", _stamp_checkin)
    event.listen(engine.sync_engine.pool, "checkout", _check_on_checkout)
    if settings.trace_database_statements:
        try:
            from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

            SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)
        except Exception:  # noqa: S110 - tracing is best effort, never a reason not to start
            pass
    return engine


def _stamp_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _check_on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Raising ``DisconnectionError`` makes the pool replace the connection and try again."""
    driver = getattr(dbapi_connection, "_connection", None)
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")
    idle = time.monotonic() - record.info.get(_CHECKED_IN, time.monotonic())
    if idle > IDLE_PING_SECONDS:
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise exc.DisconnectionError(f"idle pooled connection is gone: {error}") from error


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def statements_alone(session: AsyncSession) -> bool:
    """Run each later statement of ``session`` as its own transaction (autocommit).

    For work whose every statement stands alone — reads of rows that only ever move
    forward, one write whose guard is in its SQL — a BEGIN … COMMIT around it adds two
    round trips and buys nothing: one statement is atomic by itself. The connection gets
    its isolation level back when it returns to the pool. A session already in a
    transaction keeps it (returns False)."""
    if session.in_transaction():
        return False
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True
