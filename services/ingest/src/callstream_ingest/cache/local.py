"""The read cache's first level: finished answers in the process's own memory.

Pure. A hit in Redis still costs a round trip to another process, and on a busy machine
that round trip is most of a cached read's tail (waking Redis, then waking ingest again).
The answers read most are therefore also kept here, as the bytes sent, each with the
scopes it was computed from. An entry leaves when one of those scopes is bumped: every
bump is announced on a Redis channel that every ingest process listens to (see
:class:`callstream_ingest.cache.store.ReadCache`), so a change made through any process
reaches every one of them.

One race is closed here: an answer read from Redis (or PostgreSQL) just before a bump may
be stored just after that bump has been applied, and then nothing would remove it. So a
store names the :attr:`LocalAnswers.generation` taken *before* its read, and is refused if
any bump has been applied since.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class LocalEntry:
    body: bytes
    scopes: frozenset[str]
    stored_at: float


@dataclass
class LocalAnswers:
    """Answers by cache key, least recently used first, within ``max_bytes`` in total and
    ``max_age_seconds`` each (a bound on what a lost announcement could leave behind)."""

    max_bytes: int = 64 * 1024 * 1024
    max_age_seconds: float = 300.0
    clock: Callable[[], float] = time.monotonic
    generation: int = 0
    """Bumps applied so far; a store taken before the latest one is refused."""
    hits: int = 0
    stores: int = 0
    refused: int = 0
    evicted: int = 0
    _entries: OrderedDict[str, LocalEntry] = field(default_factory=OrderedDict)
    _by_scope: dict[str, set[str]] = field(default_factory=dict)
    _bytes: int = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry.stored_at > self.max_age_seconds:
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.body

    def put(self, key: str, body: bytes, scopes: Iterable[str], since: int) -> bool:
        """Keep ``body`` under ``key`` unless a bump was applied after ``since`` (the
        generation read before the answer was) or it alone exceeds the budget."""
        if not self.enabled or since != self.generation or len(body) > self.max_bytes:
            self.refused += 1
            return False
        self._remove(key)
        entry = LocalEntry(body, frozenset(scopes), self.clock())
        self._entries[key] = entry
        self._bytes += len(body)
        for scope in entry.scopes:
            self._by_scope.setdefault(scope, set()).add(key)
        while self._bytes > self.max_bytes:
            self._remove(next(iter(self._entries)))
        self.stores += 1
        return True

    def bumped(self, scopes: Iterable[str]) -> None:
        """Scopes changed: their answers leave, and stores read before now are refused."""
        self.generation += 1
        for scope in scopes:
            for key in list(self._by_scope.get(scope, ())):
                self._remove(key)
                self.evicted += 1

    def clear(self) -> None:
        """Forget everything (announcements may have been missed)."""
        self.generation += 1
        self._entries.clear()
        self._by_scope.clear()
        self._bytes = 0

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= len(entry.body)
        for scope in entry.scopes:
            keys = self._by_scope.get(scope)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_scope[scope]

    def __len__(self) -> int:
        return len(self._entries)

    def summary(self) -> dict[str, int]:
        return {
            "entries": len(self._entries),
            "bytes": self._bytes,
            "hits": self.hits,
            "stores": self.stores,
            "refused": self.refused,
            "evicted": self.evicted,
        }
