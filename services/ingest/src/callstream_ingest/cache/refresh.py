"""Refresh-ahead: which cached answers to recompute right after a change invalidates them.

Pure. Versioned keys make a change visible at once, but the next reader of a broad answer
(an admin's dashboard, a team's list) then pays for the recomputation, and such answers
change every few seconds while calls flow, so most of their readers would. The answers
read recently are remembered with what computes them; when a bump touches a scope one of
them depends on, it is recomputed in the background (a short delay coalesces the bumps of
one change) and stored at the new versions, so the next reader finds it. Only answers read
within ``window_seconds`` are refreshed, at most ``capacity`` of them: the cost follows
what people are looking at, not everything ever cached.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from callstream_ingest.cache.policy import CacheRequest

ComputeT = TypeVar("ComputeT")


@dataclass
class HotEntry(Generic[ComputeT]):
    request: CacheRequest
    compute: ComputeT
    read_at: float


@dataclass
class HotEntries(Generic[ComputeT]):
    """Cache keys read recently, each with its request and computation, least recent first."""

    window_seconds: float = 60.0
    capacity: int = 512
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[str, HotEntry[ComputeT]] = field(default_factory=OrderedDict)

    @property
    def enabled(self) -> bool:
        return self.window_seconds > 0

    def read(self, key: str, request: CacheRequest, compute: ComputeT) -> None:
        if not self.enabled:
            return
        self._entries[key] = HotEntry(request, compute, self.clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def touched_by(self, scopes: Iterable[str]) -> list[tuple[str, HotEntry[ComputeT]]]:
        """The entries read within the window that depend on one of ``scopes``; those
        not read within it are forgotten."""
        if not self.enabled:
            return []
        bumped = set(scopes)
        oldest = self.clock() - self.window_seconds
        for key in [k for k, e in self._entries.items() if e.read_at < oldest]:
            del self._entries[key]
        return [
            (k, e) for k, e in self._entries.items() if bumped.intersection(e.request.depends_on)
        ]

    def __len__(self) -> int:
        return len(self._entries)
