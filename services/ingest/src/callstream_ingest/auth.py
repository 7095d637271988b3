"""Bearer credentials: only their SHA-256 is stored; a role and a rep/team scope each.

Users see their own rep's conversations, managers their team's, admins everything.
Lookups are cached for a few seconds so that authentication costs no database round
trip on the hot path; a revocation through the admin API takes effect at once, one made
elsewhere (the CLI) within that TTL. An expired token authenticates no more.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from callstream_common.credentials import hash_token
from callstream_common.db.models import ApiCredential, Conversation, Rep, Role
from callstream_ingest.errors import ApiError

CACHE_TTL_SECONDS = 10.0


@dataclass(frozen=True)
class Principal:
    credential_id: uuid.UUID
    name: str
    role: Role
    rep_id: str | None
    team_id: str | None


class Authenticator:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def forget(self) -> None:
        """Drop remembered lookups (after an admin changed or revoked credentials)."""
        self._cache.clear()

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "a bearer token is required")
        return await self.principal_for_digest(hash_token(token.strip()))

    async def principal_for_digest(self, digest: str) -> Principal:
        """The principal of a credential known by its SHA-256 (a console session keeps only
        that), checked against revocation like a bearer token."""
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            found = cached[1]
        else:
            async with self._sessions() as session:
                row = (
                    await session.execute(
                        select(ApiCredential).where(
                            ApiCredential.token_hash == digest,  # type: ignore[arg-type]
                            ApiCredential.revoked_at.is_(None),  # type: ignore[union-attr]
                            or_(
                                col(ApiCredential.expires_at).is_(None),
                                col(ApiCredential.expires_at) > func.now(),
                            ),
                        )
                    )
                ).scalar_one_or_none()
            found = (
                Principal(row.id, row.name, Role(row.role), row.rep_id, row.team_id)
                if row is not None
                else None
            )
            self._cache[digest] = (now + CACHE_TTL_SECONDS, found)
        if found is None:
            raise ApiError(401, "unauthorized", "the bearer token is not valid")
        return found


async def can_see(session: AsyncSession, who: Principal, conversation: Conversation) -> bool:
    if who.role == Role.ADMIN:
        return True
    if who.role == Role.USER:
        return conversation.rep_id == who.rep_id
    if conversation.rep_id == who.rep_id:
        return True
    rep = await session.get(Rep, conversation.rep_id)
    return rep is not None and who.team_id is not None and rep.team_id == who.team_id
