"""Fault injection for the end-to-end fault test (``tests/faults``).

* :class:`LoadGenerator` uploads a batch of calls at a fixed rate through the real HTTP API
  and keeps retrying an upload (same ``Idempotency-Key``) through outages until it gets a
  ``202``; a call counts as submitted only then.
* :class:`FaultInjector` breaks the system the way production breaks: ``SIGKILL`` of a
  service (restarted at once), a restart of a stack component (Kafka, PostgreSQL), an outage
  of a component for a while (the object store); each action is recorded with its timing.
* :func:`poison_records` / :func:`publish_poison` build and publish records no stage can
  process (malformed JSON, an unknown ``schema_version``, a payload that fails validation).
* :func:`slack_counts` counts the scorecard and alert messages the fake Slack accepted per
  conversation; :class:`Figures` is the summary printed at the end and saved as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import re
import signal
import time
import uuid
import wave
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from callstream_cli.services import ServiceSet
from callstream_cli.stack import manager
from callstream_cli.stack.process import tail
from callstream_cli.stack.settings import StackSettings
from callstream_common import topics

# --------------------------------------------------------------------------- audio


def small_wav(seconds: float = 1.0, sample_rate: int = 16_000, seed: int = 7) -> bytes:
    """A valid mono 16-bit WAV (quiet noise): the ``instant`` transcriber never decodes it,
    ingest only sniffs its container."""
    rng = random.Random(seed)
    frames = bytes(rng.getrandbits(8) & 0x0F for _ in range(int(seconds * sample_rate) * 2))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(frames)
    return buf.getvalue()


# --------------------------------------------------------------------------- load


@dataclass
class Submitted:
    """One call of the batch, as the client saw it."""

    index: int
    idempotency_key: str
    priority: int
    started: float  # monotonic, first attempt
    accepted: float | None = None  # monotonic, when the 202 came
    conversation_id: str | None = None
    attempts: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rejected: str | None = None  # a 4xx answer: the upload itself was refused


class LoadGenerator:
    """Upload ``count`` calls at ``rate`` per second, each retried until accepted.

    A ``503`` (Kafka or the database unavailable, nothing stored), a ``5xx`` or a refused
    connection (ingest killed) is retried with the same ``Idempotency-Key`` after a short
    backoff, until ``call_deadline`` seconds after the call's first attempt. Every tenth call
    is high priority (its own Kafka lanes).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        count: int,
        rate: float,
        rep_id: str,
        audio: bytes,
        concurrency: int = 24,
        call_deadline: float = 240.0,
        run_id: str | None = None,
        extra_params: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.count = count
        self.rate = rate
        self.rep_id = rep_id
        self.audio = audio
        self.call_deadline = call_deadline
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.extra_params = extra_params or {}
        self._gate = asyncio.Semaphore(concurrency)
        self.calls: list[Submitted] = []

    async def run(self) -> list[Submitted]:
        began = time.monotonic()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        async with httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=3.0), limits=limits) as c:
            tasks = []
            for i in range(self.count):
                await asyncio.sleep(max(0.0, began + i / self.rate - time.monotonic()))
                call = Submitted(
                    index=i,
                    idempotency_key=f"faults-{self.run_id}-{i:04d}",
                    priority=9 if i % 10 == 0 else 5,
                    started=time.monotonic(),
                )
                self.calls.append(call)
                tasks.append(asyncio.create_task(self._submit(c, call)))
            await asyncio.gather(*tasks)
        return self.calls

    async def _submit(self, client: httpx.AsyncClient, call: Submitted) -> None:
        deadline = call.started + self.call_deadline
        params = {
            "opportunity_name": f"Fault batch {self.run_id} #{call.index}",
            "rep_id": self.rep_id,
            "priority": str(call.priority),
            **self.extra_params,
        }
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": call.idempotency_key,
            "Content-Type": "audio/wav",
        }
        backoff = 0.5
        while time.monotonic() < deadline:
            call.attempts += 1
            try:
                async with self._gate:
                    r = await client.post(
                        f"{self.base_url}/v1/conversations",
                        params=params,
                        content=self.audio,
                        headers=headers,
                    )
            except httpx.HTTPError as exc:
                call.errors[type(exc).__name__] += 1
            else:
                if r.status_code == 202:
                    call.accepted = time.monotonic()
                    call.conversation_id = str(r.json()["id"])
                    return
                if r.status_code < 500 and r.status_code != 429:
                    call.rejected = f"{r.status_code} {r.text[:200]}"
                    return
                call.errors[f"http {r.status_code}"] += 1
            await asyncio.sleep(backoff + random.uniform(0, backoff / 2))
            backoff = min(backoff * 2, 3.0)


# --------------------------------------------------------------------------- faults


@dataclass
class FaultEvent:
    """One injected fault: what, when (seconds since the run began) and how long."""

    name: str
    started: float
    ended: float
    detail: str = ""


class FaultInjector:
    """Breaks services and stack components of one test stack, recording what it did."""

    def __init__(
        self,
        services: ServiceSet,
        settings: StackSettings,
        origin: float,
        topic_specs: Iterable[Any] = (),
    ) -> None:
        self.services = services
        self.settings = settings
        self.origin = origin
        self.topic_specs = list(topic_specs) or topics.all_topics()
        self.events: list[FaultEvent] = []
        self.restarts: Counter[str] = Counter()
        self.restarting: dict[str, float] = {}
        """When (seconds since the origin) each outage's component began to start again: it
        may serve a little before the health check that ends the outage's event says so."""
        self._locks = {name: asyncio.Lock() for name in services.available()}

    def _now(self) -> float:
        return time.monotonic() - self.origin

    async def at(self, seconds: float) -> None:
        """Sleep until ``seconds`` after the origin (at once if that is past)."""
        await asyncio.sleep(max(0.0, self.origin + seconds - time.monotonic()))

    async def record(self, name: str, action: Awaitable[str | None]) -> FaultEvent:
        started = self._now()
        detail = await action
        event = FaultEvent(name, round(started, 2), round(self._now(), 2), detail or "")
        self.events.append(event)
        return event

    async def sigkill(
        self,
        name: str,
        *,
        when: Callable[[], Awaitable[bool]] | None = None,
        label: str = "",
        timeout: float = 15.0,
    ) -> FaultEvent:
        """``SIGKILL`` a service (no shutdown hook runs), then start it again at once.

        ``when`` waits for the moment to strike (e.g. while the service waits for an answer);
        it must return True, or the fault is reported as not injected.
        """

        async def action() -> str:
            if when is not None and not await when():
                raise RuntimeError(f"the moment to kill {name} never came")
            proc = self.services.process(name)
            async with self._locks[name]:
                pid = proc.pid()
                if pid is None:
                    raise RuntimeError(f"{name} is not running, nothing to kill")
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + timeout
                while proc.is_alive():
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name} (pid {pid}) survived SIGKILL for {timeout}s")
                    await asyncio.sleep(0.05)
                new_pid = await asyncio.to_thread(proc.start)
            return f"pid {pid} killed, restarted as pid {new_pid}"

        return await self.record(f"SIGKILL {name}{' ' + label if label else ''}", action())

    async def supervise(
        self, stop: asyncio.Event, interval: float = 1.0, max_restarts: int = 30
    ) -> None:
        """Start again any service that exited, until ``stop`` is set: what the platform does
        (``restart: unless-stopped`` in docker-compose.yml). A service started while Kafka
        is unreachable (the compactor: also the object store) exits at once ("Application
        startup failed") and needs this."""
        while not stop.is_set():
            for name, lock in self._locks.items():
                async with lock:
                    proc = self.services.process(name)
                    if proc.is_alive() or self.restarts[name] >= max_restarts:
                        continue
                    self.restarts[name] += 1
                    began = self._now()
                    last = tail(proc.log_path, 1)[:160]
                    pid = await asyncio.to_thread(proc.start)
                self.events.append(
                    FaultEvent(
                        f"supervisor restarted {name}",
                        round(began, 2),
                        round(self._now(), 2),
                        f"it had exited: {last!r}; now pid {pid}",
                    )
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    @contextlib.asynccontextmanager
    async def supervising(self) -> AsyncIterator[None]:
        """Run :meth:`supervise` for the duration of the block (and never beyond it)."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.supervise(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    async def _stop_component(self, name: str) -> None:
        comp = manager.component(self.settings, name)
        stopped = await asyncio.to_thread(comp.tracked_process().stop)
        if not stopped:
            raise RuntimeError(f"stack component {name} was not running")

    async def _start_stack(self) -> None:
        await manager.up_async(self.settings, self.topic_specs)

    async def restart_component(self, name: str) -> FaultEvent:
        """Stop a stack component (its own polite signal, as an operator's restart would)
        and bring it back, waiting until it is healthy again."""

        async def action() -> str:
            began = time.monotonic()
            await self._stop_component(name)
            down_at = time.monotonic()
            await self._start_stack()
            back = time.monotonic() - down_at
            return f"stopped in {down_at - began:.1f}s, healthy again after {back:.1f}s"

        return await self.record(f"restart {name}", action())

    async def outage(self, name: str, seconds: float) -> FaultEvent:
        """Take a stack component down for ``seconds``, then bring it back."""

        async def action() -> str:
            await self._stop_component(name)
            await asyncio.sleep(seconds)
            back = time.monotonic()
            self.restarting[name] = round(back - self.origin, 2)
            await self._start_stack()
            return f"down {seconds:.0f}s, healthy again after {time.monotonic() - back:.1f}s"

        return await self.record(f"{name} down", action())

    async def instant(self, name: str, action: Callable[[], str | None]) -> FaultEvent:
        """A fault switched on by one call (e.g. scripting the fake Slack)."""

        async def run() -> str | None:
            return action()

        return await self.record(name, run())


# --------------------------------------------------------------------------- poison

#: Which services consume each topic a poison record is published to (their DLQ entries).
CONSUMERS: dict[str, frozenset[str]] = {
    topics.CALLS_UPLOADED: frozenset({"transcriber"}),
    topics.CALLS_TRANSCRIBED: frozenset({"analyzer"}),
    topics.CALLS_ANALYZED: frozenset({"notifier", "compactor"}),
    topics.COMPACTION_REQUESTED: frozenset({"compactor"}),
    topics.ANALYSIS_REQUESTED: frozenset({"analyzer"}),
    topics.TRANSCRIPTION_CHUNK_REQUESTED: frozenset({"transcriber"}),
}


def consumers_of(topic: str) -> frozenset[str]:
    base = topic.removesuffix(".priority")
    return CONSUMERS[base]


@dataclass(frozen=True)
class Poison:
    """A record no stage can process, with the reason its DLQ entry must give."""

    topic: str
    kind: str
    marker: str
    value: bytes
    reason: str


POISON_KINDS: dict[str, str] = {
    "malformed": "malformed JSON",
    "schema": "unknown schema_version",
    "invalid": "failed validation",
}


def poison_records(topic_names: Sequence[str]) -> list[Poison]:
    """Three poison records per topic, each with its own marker (found again in the DLQ)."""
    out: list[Poison] = []
    for topic in topic_names:
        for kind, reason in POISON_KINDS.items():
            marker = f"poison-{kind}-{uuid.uuid4().hex}"
            if kind == "malformed":
                value = f'{{"marker": "{marker}", "conversation_id": '.encode()
            elif kind == "schema":
                value = json.dumps(
                    {"schema_version": 99, "marker": marker, "event_id": str(uuid.uuid4())}
                ).encode()
            else:
                value = json.dumps(
                    {"schema_version": 1, "marker": marker, "conversation_id": "not-a-uuid"}
                ).encode()
            out.append(Poison(topic, kind, marker, value, reason))
    return out


def poison_topics() -> list[str]:
    """Every stage input topic and every priority lane."""
    return [t for base in topics.STAGE_TOPICS for t in topics.input_topics(base)]


async def publish_poison(bootstrap: str, poisons: Sequence[Poison]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for p in poisons:
            await producer.send_and_wait(p.topic, p.value, key=p.marker.encode())
    finally:
        await producer.stop()


# --------------------------------------------------------------------------- Slack

_SCORE_BLOCK = re.compile(r"callstream:([0-9a-f-]{36}):score")
_HEADER_BLOCK = re.compile(r"callstream:([0-9a-f-]{36}):header")


def slack_counts(messages: Iterable[Any]) -> tuple[Counter[str], Counter[str]]:
    """(scorecards, alerts) accepted per conversation id. A scorecard has the ``score``
    block; an alert message has the header (":rotating_light:") but no score block."""
    scorecards: Counter[str] = Counter()
    alerts: Counter[str] = Counter()
    for message in messages:
        text = message.text
        scored = set(_SCORE_BLOCK.findall(text))
        for cid in scored:
            scorecards[cid] += 1
        if ":rotating_light:" in text:
            for cid in set(_HEADER_BLOCK.findall(text)) - scored:
                alerts[cid] += 1
    return scorecards, alerts


# --------------------------------------------------------------------------- figures


@dataclass
class Figures:
    """The summary of one fault run (printed as a table, saved as JSON)."""

    calls: int
    completed: int
    failed: int
    dlq_entries: int
    dlq_poison: int
    dlq_calls: int
    dlq_unknown_conversations: int
    duplicates: int
    lost: int
    lost_notifications: int
    poison_published: int
    replayed: int
    replay_completed: int
    upload_retries: int
    seconds: float
    seconds_to_drain_after_faults: float
    faults: list[FaultEvent] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("calls submitted (202)", str(self.calls)),
            ("completed", str(self.completed)),
            ("failed (DLQ, with reason)", str(self.failed)),
            ("DLQ entries recorded", str(self.dlq_entries)),
            ("  of them poison records", str(self.dlq_poison)),
            ("  of them calls", str(self.dlq_calls)),
            ("  of them for conversations that do not exist", str(self.dlq_unknown_conversations)),
            ("duplicated notifications", str(self.duplicates)),
            ("lost calls", str(self.lost)),
            ("lost notifications", str(self.lost_notifications)),
            ("poison records published", str(self.poison_published)),
            ("DLQ entries replayed / completed", f"{self.replayed} / {self.replay_completed}"),
            ("upload retries (outages)", str(self.upload_retries)),
            ("time, first upload to all terminal", f"{self.seconds:.1f} s"),
            ("drain after the last fault", f"{self.seconds_to_drain_after_faults:.1f} s"),
        ]

    def table(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        lines = ["", "fault injection: figures", "-" * (width + 14)]
        lines += [f"{k.ljust(width)}  {v:>10}" for k, v in self.rows()]
        lines += ["-" * (width + 14), "faults injected (seconds since the first upload):"]
        for e in self.faults:
            detail = f"  ({e.detail})" if e.detail else ""
            lines.append(f"  {e.started:7.1f} → {e.ended:7.1f}  {e.name}{detail}")
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, default=str) + "\n")
