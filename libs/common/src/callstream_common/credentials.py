"""API credentials: only a token's SHA-256 is stored. Shared by ingest (which checks
them) and the CLI (which issues them)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.db.models import ApiCredential, Role

TOKEN_PREFIX = "cs_"  # noqa: S105 - a public prefix, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_credential(
    session: AsyncSession,
    name: str,
    role: Role,
    rep_id: str | None = None,
    team_id: str | None = None,
    token: str | None = None,
) -> str:
    """Store a new credential and return its token (the only time it is seen in clear)."""
    token = token or new_token()
    session.add(
        ApiCredential(
            name=name, token_hash=hash_token(token), role=role, rep_id=rep_id, team_id=team_id
        )
    )
    return token
