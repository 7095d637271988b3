"""Bring the whole stack up, down, and report its health.

Components are independent of each other, so they are prepared, started and probed
concurrently; the slow parts (Maven downloads, JVM start-up) overlap instead of adding up.
The async functions are the API for code already inside an event loop (the test suite); the
plain ones wrap them for scripts and the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import shutil
import time
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callstream_cli.stack.component import Component, ComponentStatus, StackError
from callstream_cli.stack.endpoints import StackEndpoints
from callstream_cli.stack.kafka import Kafka
from callstream_cli.stack.postgres import Postgres
from callstream_cli.stack.redis_server import Redis
from callstream_cli.stack.seaweed import SeaweedS3
from callstream_cli.stack.settings import StackSettings
from callstream_cli.stack.zipkin import Zipkin

COMPONENT_NAMES = ("kafka", "postgres", "s3", "redis", "zipkin")
#: How long ``status`` waits for one component's answer before calling it unhealthy.
STATUS_TIMEOUT = 15.0


@dataclass(frozen=True)
class ComponentOutcome:
    """What ``up`` did with one component."""

    name: str
    product: str
    endpoint: str
    action: str  # "started" or "already running"
    seconds: float


def components(settings: StackSettings, topics: Iterable[Any] = ()) -> list[Component]:
    """The stack's components, in display order."""
    return [
        Kafka(settings, topics),
        Postgres(settings),
        SeaweedS3(settings),
        Redis(settings),
        Zipkin(settings),
    ]


def component(settings: StackSettings, name: str) -> Component:
    """One component by name (``kafka``, ``postgres``, ``s3``, ``redis``, ``zipkin``)."""
    for candidate in components(settings):
        if candidate.name == name:
            return candidate
    raise StackError(f"unknown component {name!r}; choose from {', '.join(COMPONENT_NAMES)}")


@contextlib.asynccontextmanager
async def _stack_lock(settings: StackSettings) -> AsyncIterator[None]:
    """Serialise up/down on one stack folder (two ``up`` at once would race on pidfiles)."""
    settings.stack_dir.mkdir(parents=True, exist_ok=True)
    with (settings.stack_dir / "stack.lock").open("w") as fh:
        await asyncio.to_thread(fcntl.flock, fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


async def _bring_up(comp: Component, wait_seconds: float) -> ComponentOutcome:
    began = time.monotonic()
    tracked = comp.tracked_process()
    if tracked.is_alive():
        action = "already running"
        await tracked.wait_healthy(comp.ready, wait_seconds)
    else:
        action = "started"
        busy = comp.busy_ports()
        if busy:
            raise StackError(
                f"{comp.name}: port(s) {', '.join(map(str, busy))} already in use by a process "
                "this stack did not start (another stack, or a system service)"
            )
        await asyncio.to_thread(comp.prepare)
        process = comp.process()
        process.start()
        await process.wait_healthy(comp.ready, wait_seconds)
    await comp.provision()
    return ComponentOutcome(
        comp.name, comp.product, comp.endpoint(), action, time.monotonic() - began
    )


async def start_components(
    settings: StackSettings, topics: Iterable[Any] = (), only: Collection[str] | None = None
) -> list[ComponentOutcome]:
    """Start every component not yet running (or just those named in ``only``), wait until
    all are healthy, provision them.

    All or nothing: if any component fails, the ones this call started are stopped again
    (those that were already running stay), and StackError names every failure.
    """
    clashes = settings.duplicate_ports()
    if clashes:
        described = "; ".join(f"{port}: {', '.join(names)}" for port, names in clashes.items())
        raise StackError(f"the same port is configured twice: {described}")
    comps = [c for c in components(settings, topics) if only is None or c.name in only]
    async with _stack_lock(settings):
        was_running = {c.name: c.tracked_process().is_alive() for c in comps}
        results = await asyncio.gather(
            *(_bring_up(c, settings.health_timeout) for c in comps), return_exceptions=True
        )
        failures = [
            f"{c.name}: {r}"
            for c, r in zip(comps, results, strict=True)
            if isinstance(r, BaseException)
        ]
        if failures:
            started = [c for c in comps if not was_running[c.name]]
            was_up = await asyncio.gather(
                *(asyncio.to_thread(c.tracked_process().stop) for c in started)
            )
            names = [c.name for c, up in zip(started, was_up, strict=True) if up]
            stopped = f" (stopped again: {', '.join(names)})" if names else ""
            raise StackError("stack up failed" + stopped + ":\n" + "\n".join(failures))
    return [r for r in results if isinstance(r, ComponentOutcome)]


async def up_async(
    settings: StackSettings | None = None, topics: Iterable[Any] = ()
) -> StackEndpoints:
    """Bring the stack up (idempotent) and return its endpoints.

    ``topics`` are ``(name, partitions)`` pairs (or objects with ``name``/``partitions``)
    created on Kafka if missing.
    """
    settings = settings or StackSettings()
    await start_components(settings, topics)
    return StackEndpoints.from_settings(settings)


async def down_async(settings: StackSettings | None = None) -> dict[str, bool]:
    """Stop every component this stack started, by PID; maps name to "was running"."""
    settings = settings or StackSettings()
    comps = components(settings)
    async with _stack_lock(settings):
        stopped = await asyncio.gather(
            *(asyncio.to_thread(c.tracked_process().stop) for c in comps)
        )
    return {c.name: was for c, was in zip(comps, stopped, strict=True)}


async def clean_async(settings: StackSettings | None = None) -> list[Path]:
    """Stop the stack and delete everything it keeps: its folder and its system folder.

    Returns the folders removed. The download cache (``cache_dir``) is shared and kept.
    """
    settings = settings or StackSettings()
    await down_async(settings)
    removed = []
    postgres = Postgres(settings)
    if postgres.run_as is not None and postgres.remove_state():
        removed.append(settings.system_state_dir())
    if settings.stack_dir.exists():
        shutil.rmtree(settings.stack_dir, ignore_errors=True)
        removed.append(settings.stack_dir)
    return removed


async def _status_of(comp: Component) -> ComponentStatus:
    pid = comp.tracked_process().pid()
    if pid is None:
        busy = comp.busy_ports()
        detail = f"port(s) {', '.join(map(str, busy))} held by another process" if busy else ""
        return ComponentStatus(
            comp.name, comp.product, False, False, None, None, comp.endpoint(), detail
        )
    try:
        version = await asyncio.wait_for(comp.check(), STATUS_TIMEOUT)
    except Exception as exc:
        return ComponentStatus(
            comp.name, comp.product, True, False, pid, None, comp.endpoint(), repr(exc)
        )
    return ComponentStatus(comp.name, comp.product, True, True, pid, version, comp.endpoint())


async def status_async(settings: StackSettings | None = None) -> list[ComponentStatus]:
    """Health and version of every component, asked from the running servers."""
    settings = settings or StackSettings()
    return list(await asyncio.gather(*(_status_of(c) for c in components(settings))))


def up(settings: StackSettings | None = None, topics: Iterable[Any] = ()) -> StackEndpoints:
    """Blocking ``up_async`` for code without an event loop."""
    return asyncio.run(up_async(settings, topics))


def down(settings: StackSettings | None = None) -> dict[str, bool]:
    """Blocking ``down_async``."""
    return asyncio.run(down_async(settings))


def clean(settings: StackSettings | None = None) -> list[Path]:
    """Blocking ``clean_async``."""
    return asyncio.run(clean_async(settings))


def status(settings: StackSettings | None = None) -> list[ComponentStatus]:
    """Blocking ``status_async``."""
    return asyncio.run(status_async(settings))
