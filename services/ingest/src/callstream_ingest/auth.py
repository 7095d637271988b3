"""Bearer credentials: only their SHA-256 is stored; a role and a rep/team scope each.

Users see their own rep's conversations, managers their team's, admins everything.
Lookups are cached for a few seconds so that authentication costs no database round
trip on the hot path; a revocation through the admin API takes effect at once, one made
elsewhere (the CLI) within that TTL, and an expired token authenticates no more. The cache
is bounded in size as well as time, so a flood of random tokens cannot grow it, and a
client address that keeps presenting invalid tokens is slowed down (429 with
``Retry-After``) before it costs a database query per guess.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from callstream_common.credentials import hash_token
from callstream_common.db.models import ApiCredential, Conversation, Rep, Role
from callstream_ingest.errors import ApiError

CACHE_TTL_SECONDS = 10.0
CACHE_MAX_ENTRIES = 10_000
FAILURE_LIMIT = 20
FAILURE_WINDOW_SECONDS = 60.0
TRACKED_ADDRESSES = 10_000

V = TypeVar("V")


@dataclass(frozen=True)
class Principal:
    credential_id: uuid.UUID
    name: str
    role: Role
    rep_id: str | None
    team_id: str | None


class BoundedTtlCache(Generic[V]):
    """Entries expire after ``ttl`` seconds; past ``max_entries`` the least recently used
    one is dropped. Memory is therefore capped whatever clients present."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def get(self, key: str, now: float) -> tuple[bool, V | None]:
        hit = self._entries.get(key)
        if hit is None:
            return False, None
        if hit[0] <= now:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, hit[1]

    def put(self, key: str, value: V, now: float) -> None:
        self._entries[key] = (now + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class FailedAuthThrottle:
    """Counts invalid tokens per client address in a sliding window; at ``limit`` the
    address is refused until its oldest failure leaves the window. Addresses tracked are
    bounded the same way as the token cache."""

    def __init__(self, limit: int, window: float, max_addresses: int = TRACKED_ADDRESSES) -> None:
        self.limit, self.window, self.max_addresses = limit, window, max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str, now: float) -> float | None:
        """Seconds the address must wait, or None if it may try."""
        times = self._recent(address, now)
        if times is None or len(times) < self.limit:
            return None
        return times[0] + self.window - now

    def failed(self, address: str, now: float) -> None:
        times = self._recent(address, now) or deque()
        times.append(now)
        self._failures[address] = times
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Authenticator:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        cache_ttl: float = CACHE_TTL_SECONDS,
        cache_size: int = CACHE_MAX_ENTRIES,
        failure_limit: int = FAILURE_LIMIT,
        failure_window: float = FAILURE_WINDOW_SECONDS,
    ) -> None:
        self._sessions = sessions
        self.cache: BoundedTtlCache[Principal | None] = BoundedTtlCache(cache_ttl, cache_size)
        self.throttle = FailedAuthThrottle(failure_limit, failure_window)

    def forget(self) -> None:
        """Drop remembered lookups (after an admin changed or revoked credentials)."""
        self.cache.clear()

    async def principal(self, request: Request) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise ApiError(401, "unauthorized", "a bearer token is required")
        address = request.client.host if request.client else "unknown"
        now = time.monotonic()
        wait = self.throttle.retry_after(address, now)
        if wait is not None:
            raise ApiError(
                429,
                "too_many_failed_attempts",
                "too many invalid credentials from this address; try again later",
                {"retry_after_seconds": math.ceil(wait)},
            )
        found = await self.lookup(hash_token(token), now)
        if found is None:
            self.throttle.failed(address, now)
            raise ApiError(401, "unauthorized", "the bearer token is not valid")
        return found

    async def principal_for_digest(self, digest: str) -> Principal:
        """The principal of a credential known by its SHA-256 (a console session keeps only
        that), checked against revocation and expiry like a bearer token."""
        found = await self.lookup(digest, time.monotonic())
        if found is None:
            raise ApiError(401, "unauthorized", "the credential is no longer valid")
        return found

    async def lookup(self, digest: str, now: float) -> Principal | None:
        hit, cached = self.cache.get(digest, now)
        if hit:
            return cached
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
        self.cache.put(digest, found, now)
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
