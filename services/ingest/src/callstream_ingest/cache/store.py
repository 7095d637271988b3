"""The Redis adapter of the read cache: versioned lookups, single flight, circuit breaker.

Redis is an accelerator, never a dependency: every call has a small timeout, a failure
counts towards a circuit breaker, and while the breaker is open reads go straight to
PostgreSQL without waiting on Redis at all. Invalidations that could not reach Redis are
not lost: the next successful call (and every start of the process) moves to a new
*epoch*, part of every key, so entries written before are never read again. A recovery
without a missed invalidation keeps the cache (a slow moment is not a reason to drop it).

In front of Redis, each process keeps the answers it gave in memory
(:mod:`callstream_ingest.cache.local`), used only while Redis is healthy and its
announcements of bumps are being heard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from callstream_ingest.cache.local import LocalAnswers
from callstream_ingest.cache.metrics import CacheStats
from callstream_ingest.cache.policy import (
    ORG,
    PREFIX,
    CacheRequest,
    Entry,
    Layer,
    conversation_scope,
    current,
    item_key,
    stamp,
    stamped,
    version_key,
    versions_of,
)
from callstream_ingest.cache.refresh import HotEntries
from callstream_ingest.settings import IngestSettings

log = logging.getLogger(__name__)

EPOCH_KEY = f"{PREFIX}:epoch"
BUMPS_CHANNEL = f"{PREFIX}:bumps"
"""Where every bump is announced (the scopes, one per line) to every ingest process's
answers in memory (:mod:`callstream_ingest.cache.local`)."""


class Outcome(StrEnum):
    """How a read was answered; also sent to the client as ``X-Cache``."""

    HIT = "hit"
    MISS = "miss"
    BYPASS = "bypass"
    """The cache is off or its breaker open: computed, not stored."""
    ERROR = "error"
    """Redis failed during the lookup: computed, not stored."""
    PARTIAL = "partial"
    """A list whose page of ids was cached but some items were read from PostgreSQL."""


class Lookup(NamedTuple):
    body: bytes
    outcome: Outcome
    items: PrefetchedItems | None = None
    """On a page hit: its items' versions and entries, read in the same round trip."""


class PrefetchedItems(NamedTuple):
    """What :data:`PAGE_WITH_ITEMS` read beside a page: each listed conversation's version,
    then its item entry, in the page's order, under the epoch of the lookup."""

    epoch: int
    found: list[bytes | None]


PAGE_WITH_ITEMS = """
local found = redis.call('MGET', unpack(KEYS))
local page = found[#KEYS]
if not page then return found end
local listed = string.match(page, '"ids":%[(.-)%]')
if not listed then return found end
local ids = {}
for id in string.gmatch(listed, '"([^"]+)"') do ids[#ids + 1] = id end
if #ids == 0 then return found end
local keys = {}
for i, id in ipairs(ids) do
  keys[i] = ARGV[1] .. id
  keys[#ids + i] = ARGV[2] .. id
end
local more = redis.call('MGET', unpack(keys))
for i = 1, #keys do found[#KEYS + i] = more[i] end
return found
"""
"""A page of ids and, in the same round trip, the versions and entries of the items it
lists. KEYS: the page's version keys, then its key; ARGV: the prefix of a conversation's
version key and of its item key. Nothing is decided here: the caller checks the page and
every item against their versions, as for a plain ``MGET``."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown`` lets one call
    through (half open): success closes it, failure opens it again."""

    threshold: int = 3
    cooldown_seconds: float = 2.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        state = self.state
        if state == BreakerState.CLOSED:
            return True
        if state == BreakerState.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def succeeded(self) -> bool:
        """Record a success; True if this closed an open breaker (a recovery)."""
        recovered = self.opened_at is not None
        self.failures, self.opened_at, self.probing = 0, None, False
        return recovered

    def failed(self) -> bool:
        """Record a failure; True if this opened a closed breaker."""
        self.failures += 1
        self.probing = False
        opened = self.opened_at is None and self.failures >= self.threshold
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self.clock()
        return opened


@dataclass
class ReadCache:
    redis: Redis
    stats: CacheStats = field(default_factory=CacheStats)
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    timeout_seconds: float = 0.5
    enabled: bool = True
    epoch: int = 0
    hot: HotEntries[Callable[[], Awaitable[bytes]]] = field(default_factory=HotEntries)
    refresh_delay_seconds: float = 0.05
    """Bumps within this delay of the first are refreshed together (one change bumps
    several facets, and each hot answer is recomputed once for them all)."""
    _inflight: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)
    _missed_invalidation: bool = False
    _to_refresh: dict[str, tuple[CacheRequest, Callable[[], Awaitable[bytes]]]] = field(
        default_factory=dict
    )
    _refresher: asyncio.Task[None] | None = None
    local: LocalAnswers = field(default_factory=LocalAnswers)
    subscriber: Redis | None = None
    """A client of its own for :attr:`bumps_channel`; without one nothing is kept in
    memory, as this process could not hear the bumps made through the others."""
    resubscribe_seconds: float = 1.0
    bumps_channel: str = BUMPS_CHANNEL
    """Where bumps are announced and heard; every ingest process of one deployment must
    use the same (a test uses its own, so the bumps of the stack's ingest do not reach
    the caches it counts on)."""
    _listening: bool = False
    _listener: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self._page_with_items = self.redis.register_script(PAGE_WITH_ITEMS)

    async def start(self) -> None:
        """Take a new epoch: nothing cached by an earlier process is trusted; start
        listening to the bumps."""
        await self._new_epoch()
        listening = self._listener is not None and not self._listener.done()
        if self.subscriber is not None and self.local.enabled and not listening:
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(self.subscriber), name="read-cache-bumps"
            )

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener
        if self.subscriber is not None:
            await self.subscriber.aclose()
        await self.redis.aclose()

    async def _listen(self, subscriber: Redis) -> None:
        """Apply every bump announced on :attr:`bumps_channel` to the answers in memory.

        They are used only while subscribed: Redis confirms a subscription with a message,
        and only from then on is every later bump heard. Losing the connection forgets
        them all (what was announced meanwhile is lost), and so does any confirmation
        after the first (a reconnection the client made on its own)."""
        while True:
            pubsub = subscriber.pubsub()
            try:
                await pubsub.subscribe(self.bumps_channel)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self.local.bumped(message["data"].decode().split("\n"))
                    elif message["type"] == "subscribe":
                        self.local.clear()
                        self._listening = True
            except (RedisError, OSError, TimeoutError) as exc:
                log.info("read cache: not listening to bumps (%s)", type(exc).__name__)
            finally:
                self._listening = False
                self.local.clear()
                with suppress(RedisError, OSError, TimeoutError):
                    await pubsub.aclose()
            await asyncio.sleep(self.resubscribe_seconds)

    def _local_usable(self) -> bool:
        return (
            self._listening
            and self.enabled
            and not self._missed_invalidation
            and self.breaker.state == BreakerState.CLOSED
        )

    def local_answer(
        self, request: CacheRequest, refresh: Callable[[], Awaitable[bytes]]
    ) -> bytes | None:
        """``request``'s answer from this process's memory, if it is there and the bumps
        are being heard; ``refresh`` is what recomputes it ahead of its next reader."""
        return self._kept(request.key(self.epoch), request, refresh)

    def keep_locally(
        self, request: CacheRequest, body: bytes, since: int, also: Iterable[str] = ()
    ) -> None:
        """Keep ``request``'s answer in memory until a scope it depends on (or one of
        ``also``) is bumped. ``since``: :attr:`LocalAnswers.generation` taken before
        anything the answer was made of was read."""
        self._keep(request.key(self.epoch), request, body, since, also)

    def _kept(
        self, key: str, request: CacheRequest, refresh: Callable[[], Awaitable[bytes]]
    ) -> bytes | None:
        if not self._local_usable():
            return None
        started = time.perf_counter()
        body = self.local.get(key)
        if body is not None:
            self.hot.read(key, request, refresh)
            self.stats.record(request.entry.layer, Outcome.HIT.value, time.perf_counter() - started)
        return body

    def _keep(
        self, key: str, request: CacheRequest, body: bytes, since: int, also: Iterable[str] = ()
    ) -> None:
        """A key taken under an earlier epoch is harmless: changing epochs clears memory,
        which refuses every store read before it."""
        if self._local_usable():
            self.local.put(key, body, (*request.depends_on, ORG, *also), since)

    async def _new_epoch(self) -> None:
        self.local.clear()
        try:
            self.epoch = int(
                await asyncio.wait_for(self.redis.incr(EPOCH_KEY), self.timeout_seconds)
            )
            self._missed_invalidation = False
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("read cache: Redis unavailable at epoch change: %s", type(exc).__name__)
            self._missed_invalidation = True
            self.breaker.failed()

    @property
    def status(self) -> str:
        if not self.enabled:
            return "disabled"
        return "ok" if self.breaker.state == BreakerState.CLOSED else "degraded"

    async def _call(self, op: Awaitable[object]) -> object:
        try:
            result = await asyncio.wait_for(op, self.timeout_seconds)
        except (RedisError, OSError, TimeoutError) as exc:
            if isinstance(exc, RedisConnectionError):
                await self._drop_idle_connections()
            if self.breaker.failed():
                log.warning(
                    "read cache: circuit open after %d failures (last: %s %s)",
                    self.breaker.failures,
                    type(exc).__name__,
                    exc,
                )
            raise
        recovered = self.breaker.succeeded()
        if recovered:
            await self._drop_idle_connections()
        if self._missed_invalidation:
            log.info("read cache: an invalidation was missed, moving to a new epoch")
            await self._new_epoch()
        elif recovered:
            log.info("read cache: Redis answers again")
        return result

    async def _drop_idle_connections(self) -> None:
        """Close the pool's idle connections. A lost connection or a recovery means Redis
        went away: every idle connection may be to the process that is gone, and each
        would fail once more (and count towards opening the circuit again) when taken."""
        with suppress(RedisError, OSError):
            await self.redis.connection_pool.disconnect(inuse_connections=False)

    async def get_or_compute(
        self,
        request: CacheRequest,
        compute: Callable[[], Awaitable[bytes]],
        refresh: Callable[[], Awaitable[bytes]] | None = None,
        with_items: bool = False,
    ) -> Lookup:
        """The cached answer of ``request`` or, on a miss, ``compute()`` once per key and
        versions even under concurrent misses (the others await the same result).

        One round trip: the versions the entry depends on and the entry itself, in one
        ``MGET``; the entry is taken only if it was computed at those very versions. A
        miss stores the result with the versions read *before* computing, so a change
        committed during the computation leaves an entry that no lookup will take.

        ``refresh`` (default ``compute``) is what recomputes the answer ahead of its next
        reader after a change (see :mod:`callstream_ingest.cache.refresh`).

        ``with_items`` (a page of ids): a hit also brings its items' versions and entries
        from the same round trip (:data:`PAGE_WITH_ITEMS`), for :meth:`items`."""
        layer = request.entry.layer
        epoch = self.epoch
        key = request.key(epoch)
        keeps = not with_items
        since = self.local.generation
        if keeps:
            kept = self._kept(key, request, refresh or compute)
            if kept is not None:
                return Lookup(kept, Outcome.HIT)
        started = time.perf_counter()
        if not self.enabled or not self.breaker.allow():
            body = await self._single_flight(key, compute, None)
            return self._looked_up(layer, Outcome.BYPASS, started, body)
        try:
            versions, cached, listed = await self._stored(request, key, with_items)
        except (RedisError, OSError, TimeoutError):
            return self._looked_up(layer, Outcome.ERROR, started, await compute())
        self.hot.read(key, request, refresh or compute)
        if cached is not None:
            if keeps:
                self._keep(key, request, cached, since)
            prefetched = PrefetchedItems(epoch, listed) if with_items else None
            return self._looked_up(layer, Outcome.HIT, started, cached, prefetched)
        body = await self._single_flight(key, compute, request.entry.ttl_seconds, versions=versions)
        if keeps:
            self._keep(key, request, body, since)
        return self._looked_up(layer, Outcome.MISS, started, body)

    async def _stored(
        self, request: CacheRequest, key: str, with_items: bool = False
    ) -> tuple[list[int], bytes | None, list[bytes | None]]:
        """The current versions of what ``request`` depends on, its entry if computed at
        those very versions, and (``with_items``, a page of ids) what
        :data:`PAGE_WITH_ITEMS` read of its items, all in one round trip."""
        keys = [*request.version_keys(), key]
        if with_items:
            found: list[bytes | None] = await self._call(  # type: ignore[assignment]
                self._page_with_items(
                    keys=keys, args=[version_key(conversation_scope("")), item_key(self.epoch, "")]
                )
            )
        else:
            found = await self._call(self.redis.mget(keys))  # type: ignore[assignment]
        versions = versions_of(found[: len(keys) - 1])
        return versions, current(found[len(keys) - 1], versions), found[len(keys) :]

    async def items(
        self,
        ids: list[str],
        load: Callable[[list[str]], Awaitable[dict[str, bytes]]],
        counted: bool = True,
        prefetched: PrefetchedItems | None = None,
    ) -> tuple[dict[str, bytes], Outcome]:
        """The list items of ``ids`` (conversation id → JSON), each valid only at its
        conversation's current version; those missing or out of date come from ``load``
        (one query by primary key) and are stored with the version read *before* it, so
        a change committed meanwhile can never bring an out-of-date item back.

        One round trip when every item is cached: the versions and the items in one
        ``MGET``, or none if the page's lookup brought them (``prefetched``, taken only if
        it holds as many as ``ids`` under the current epoch). HIT if every item came from
        Redis, MISS otherwise."""
        started = time.perf_counter()
        if not ids:
            return {}, Outcome.HIT
        if not self.enabled or not self.breaker.allow():
            return await load(ids), Outcome.BYPASS
        keys = [item_key(self.epoch, i) for i in ids]
        found: list[bytes | None]
        if (
            prefetched is not None
            and prefetched.epoch == self.epoch
            and len(prefetched.found) == 2 * len(ids)
        ):
            found = prefetched.found
        else:
            try:
                found = await self._call(  # type: ignore[assignment]
                    self.redis.mget([*(version_key(conversation_scope(i)) for i in ids), *keys])
                )
            except (RedisError, OSError, TimeoutError):
                return await load(ids), Outcome.ERROR
        versions = versions_of(found[: len(ids)])
        items: dict[str, bytes] = {}
        missing: list[int] = []
        for n, (i, stored) in enumerate(zip(ids, found[len(ids) :], strict=True)):
            body = current(stored, [versions[n]])
            if body is None:
                missing.append(n)
            else:
                items[i] = body
        if missing:
            loaded = await load([ids[n] for n in missing])
            items |= loaded
            with suppress(RedisError, OSError, TimeoutError):
                pipe = self.redis.pipeline(transaction=False)
                for n in missing:
                    if ids[n] in loaded:
                        pipe.set(
                            keys[n],
                            stamped([versions[n]], loaded[ids[n]]),
                            ex=Entry.ITEM.ttl_seconds,
                        )
                await self._call(pipe.execute())
        elapsed = time.perf_counter() - started
        if counted:  # a refresh-ahead warming a page's items is no reader's lookup
            self.stats.record_many(Layer.ITEMS, len(ids) - len(missing), len(missing), elapsed)
        return items, Outcome.MISS if missing else Outcome.HIT

    def _looked_up(
        self,
        layer: Layer,
        outcome: Outcome,
        started: float,
        body: bytes,
        items: PrefetchedItems | None = None,
    ) -> Lookup:
        self.stats.record(layer, outcome.value, time.perf_counter() - started)
        return Lookup(body, outcome, items)

    async def _single_flight(
        self,
        key: str,
        compute: Callable[[], Awaitable[bytes]],
        ttl: int | None,
        versions: list[int] | None = None,
    ) -> bytes:
        """One ``compute()`` per key and versions at a time; concurrent callers await its
        result. The result is stored with ``ttl`` (None: not stored, Redis is being
        bypassed), stamped with ``versions``.

        The key stays claimed until the result is in Redis: a request that missed just as
        the computation finished finds either the claim or the stored result, never
        neither (which would compute the same answer a second time)."""
        flight = key if versions is None else f"{key}@{stamp(versions).decode()}"
        running = self._inflight.get(flight)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[flight] = future
        try:
            body = await compute()
            self.stats.computed += 1
            future.set_result(body)
            if ttl is not None and versions is not None:
                with suppress(RedisError, OSError, TimeoutError):
                    await self._call(self.redis.set(key, stamped(versions, body), ex=ttl))
            return body
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            self._inflight.pop(flight, None)

    async def invalidate(
        self, scopes: Iterable[str], source: str, lag_seconds: float | None = None
    ) -> None:
        """Bump the version of every scope in one round trip. If Redis cannot be told, the
        next recovery changes the epoch, so no entry from before this change survives."""
        scopes = list(scopes)
        keys = [version_key(s) for s in scopes]
        if not keys:
            return
        try:
            # Tried even while the breaker is open (readers do not wait on this): only an
            # invalidation that really failed forces the next epoch.
            pipe = self.redis.pipeline(transaction=False)
            for k in keys:
                pipe.incr(k)
            pipe.publish(self.bumps_channel, "\n".join(scopes))
            await self._call(pipe.execute())
        except (RedisError, OSError, TimeoutError, ConnectionError):
            self._missed_invalidation = True
            self.local.clear()
            self.stats.record_invalidation(f"{source}:missed", None)
            return
        self.local.bumped(scopes)
        self.stats.record_invalidation(source, lag_seconds)
        self._refresh_ahead(scopes)

    def _refresh_ahead(self, scopes: Iterable[str]) -> None:
        """Queue the recently read answers these bumps made out of date for recomputation."""
        for key, entry in self.hot.touched_by(scopes):
            self._to_refresh[key] = (entry.request, entry.compute)
        if self._to_refresh and (self._refresher is None or self._refresher.done()):
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_queued())

    async def _refresh_queued(self) -> None:
        """One at a time, in the background: the requests keep the cores first."""
        await asyncio.sleep(self.refresh_delay_seconds)
        while self._to_refresh:
            key, (request, compute) = next(iter(self._to_refresh.items()))
            del self._to_refresh[key]
            try:
                await self._refresh(request, compute)
            except Exception as exc:  # the next reader computes it: nothing is lost
                log.debug("read cache: refresh failed (%s)", type(exc).__name__)

    async def _refresh(
        self, request: CacheRequest, compute: Callable[[], Awaitable[bytes]]
    ) -> None:
        if not self.enabled or not self.breaker.allow():
            return
        key = request.key(self.epoch)
        versions, cached, _ = await self._stored(request, key)
        if cached is not None:
            return  # a reader got there first
        await self._single_flight(key, compute, request.entry.ttl_seconds, versions=versions)
        self.stats.refreshed += 1

    async def ping(self) -> str:
        if not self.enabled:
            return "disabled"
        if self.breaker.state == BreakerState.OPEN:
            return "degraded: circuit open"
        try:
            await self._call(self.redis.ping())
            return "ok"
        except (RedisError, OSError, TimeoutError) as exc:
            return f"degraded: {type(exc).__name__}"

    def summary(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "status": self.status,
            "breaker": self.breaker.state.value,
            "epoch": self.epoch,
            **self.stats.summary(),
            "local": {**self.local.summary(), "listening": self._listening},
        }


def build_read_cache(settings: IngestSettings) -> ReadCache:
    """redis-py's asyncio client (hiredis parser when installed) with short timeouts, and
    one more for the bumps' channel that never retries on its own (a reconnection it
    made silently would hide the bumps announced meanwhile)."""

    def client(**options: Any) -> Redis:
        return Redis.from_url(
            settings.redis_url.get_secret_value(),
            socket_timeout=settings.read_cache_timeout_seconds,
            socket_connect_timeout=settings.read_cache_timeout_seconds,
            **options,
        )

    return ReadCache(
        redis=client(max_connections=64),
        subscriber=client(retry=Retry(NoBackoff(), 0)),
        local=LocalAnswers(
            max_bytes=settings.read_cache_local_megabytes * 1024 * 1024,
            max_age_seconds=settings.read_cache_local_max_age_seconds,
        ),
        hot=HotEntries(window_seconds=settings.read_cache_refresh_window_seconds),
        timeout_seconds=settings.read_cache_timeout_seconds,
        enabled=settings.read_cache_enabled,
        breaker=CircuitBreaker(cooldown_seconds=settings.read_cache_breaker_cooldown_seconds),
    )
