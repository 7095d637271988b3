"""Console sessions: a random id in an HttpOnly cookie, the rest on the server (Redis).

The browser never holds the bearer credential: the session keeps only the credential's
SHA-256 (resolved to a principal on every request, so a revoked credential ends its
sessions within the authenticator's cache TTL), a CSRF token and nothing else. Redis
expires the session server-side; the cookie's own lifetime is only a hint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

SESSION_COOKIE = "callstream_session"
LOGIN_CSRF_COOKIE = "callstream_login_csrf"
KEY_PREFIX = "callstream:console:session:"


@dataclass(frozen=True)
class ConsoleSession:
    credential_digest: str
    csrf_token: str


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _key(session_id: str) -> str:
    """Redis holds the session id's hash, so a dump of Redis cannot be replayed as cookies."""
    return KEY_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, redis: Redis, lifetime_seconds: int) -> None:
        self._redis = redis
        self.lifetime_seconds = lifetime_seconds

    async def create(self, credential_digest: str) -> tuple[str, ConsoleSession]:
        session_id = new_secret()
        session = ConsoleSession(credential_digest=credential_digest, csrf_token=new_secret())
        await self._redis.set(
            _key(session_id),
            json.dumps({"credential_digest": credential_digest, "csrf_token": session.csrf_token}),
            ex=self.lifetime_seconds,
        )
        return session_id, session

    async def load(self, session_id: str) -> ConsoleSession | None:
        raw = await self._redis.get(_key(session_id))
        if raw is None:
            return None
        data = json.loads(raw)
        return ConsoleSession(data["credential_digest"], data["csrf_token"])

    async def end(self, session_id: str) -> None:
        await self._redis.delete(_key(session_id))

    async def close(self) -> None:
        await self._redis.aclose()
