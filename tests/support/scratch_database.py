"""A database of its own on the test stack's PostgreSQL, for tests that migrate or seed
one from scratch without touching the database the running services use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

DROP_ATTEMPTS = 100
"""Tries at dropping the database, 0.2 s apart (see :func:`drop_database`)."""


async def drop_database(admin: asyncpg.Connection, name: str) -> None:
    """Drop ``name``, closing the connections still open to it.

    ``WITH (FORCE)`` may only end the sessions of our own role: an autovacuum worker that
    entered the database after a test wrote to it makes the drop fail with
    ``InsufficientPrivilegeError``. New connections are refused first and the drop is
    tried again until the worker has left (it does within seconds)."""
    with contextlib.suppress(asyncpg.exceptions.InvalidCatalogNameError):
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    for attempt in range(DROP_ATTEMPTS):
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except (
            asyncpg.exceptions.InsufficientPrivilegeError,
            asyncpg.exceptions.ObjectInUseError,
        ):
            if attempt == DROP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.2)


@asynccontextmanager
async def scratch_database(endpoints: Any, name: str) -> AsyncIterator[str]:
    """Create ``name`` afresh (dropping one a crashed run left), yield its SQLAlchemy URL,
    and drop it at the end, closing whatever connections are still open to it."""
    url = endpoints.database_url.get_secret_value()
    admin = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await drop_database(admin, name)
        await admin.execute(f"CREATE DATABASE {name}")
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        await drop_database(admin, name)
        await admin.close()
