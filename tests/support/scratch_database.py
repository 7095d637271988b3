"""A database of its own on the test stack's PostgreSQL, for tests that migrate or seed
one from scratch without touching the database the running services use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg


@asynccontextmanager
async def scratch_database(endpoints: Any, name: str) -> AsyncIterator[str]:
    """Create ``name`` afresh (dropping one a crashed run left), yield its SQLAlchemy URL,
    and drop it at the end, closing whatever connections are still open to it."""
    url = endpoints.database_url.get_secret_value()
    admin = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        await admin.execute(f"CREATE DATABASE {name}")
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
