"""CPU time of process trees from ``/proc``: what a benchmark's load costs the machine.

Servers such as PostgreSQL fork a process per connection, so a server is counted as its
whole process tree; what each spends with nothing to do (a JVM's collector, consumers'
polls, exporters) is measured in a quiet window and subtracted from the loaded one.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from pathlib import Path

from bench.common import bench_stack_settings


def process_table() -> dict[int, tuple[int, float]]:
    """Every process: pid → (parent pid, CPU seconds of it and of its reaped children)."""
    table: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    return table


def tree_cpu_seconds(root: int, table: dict[int, tuple[int, float]]) -> float:
    """CPU seconds of a process and all its descendants, living or reaped: a server that
    forks a process per connection (PostgreSQL) is counted whole. A descendant that exits
    moves its time into its parent's reaped-children counters, so the sum never drops."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][1]
            todo.extend(children.get(pid, ()))
    return total


def infrastructure_pids() -> dict[str, int]:
    """The bench stack's servers (Kafka, PostgreSQL, object store, Redis, Zipkin) by name
    (none when the bench stack is not the one running, as in the smoke tests)."""
    from callstream_cli.stack import manager

    found = {c.name: c.tracked_process().pid() for c in manager.components(bench_stack_settings())}
    return {name: pid for name, pid in found.items() if pid}


def busy_cpu(
    before: dict[str, float], after: dict[str, float], idle: dict[str, float], window: float
) -> dict[str, float]:
    """CPU seconds each process spent on the load: what it spent over the ``window``
    seconds, less what it spends per second with nothing to do (``idle``)."""
    return {
        name: after[name] - before[name] - idle.get(name, 0.0) * window
        for name in after
        if name in before
    }


BENCH_CLIENT = "bench client"
"""This process (a benchmark's load generator) in a :class:`CpuMeter`'s readings."""


class CpuMeter:
    """CPU seconds each of some process trees (and this process, as :data:`BENCH_CLIENT`,
    unless ``client`` is False) spent on a load, less what it spends idle once
    :meth:`measure_idle` has measured that: between :meth:`start` and :meth:`busy`, or
    over a ``with`` block (then in :attr:`used`). Processes without a pid are left out."""

    def __init__(self, pids: Mapping[str, int | None], client: bool = True) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.client = client
        self.idle_per_second: dict[str, float] = {}
        self.used: dict[str, float] = {}
        self._mark: tuple[float, dict[str, float]] = (time.monotonic(), {})

    def read(self) -> dict[str, float]:
        table = process_table()
        cpu = {name: tree_cpu_seconds(pid, table) for name, pid in self.pids.items()}
        return cpu | {BENCH_CLIENT: time.process_time()} if self.client else cpu

    async def measure_idle(self, seconds: float) -> None:
        began, before = time.monotonic(), self.read()
        await asyncio.sleep(seconds)
        after, window = self.read(), time.monotonic() - began
        self.idle_per_second = {
            n: max(0.0, c / window) for n, c in busy_cpu(before, after, {}, window).items()
        }

    def start(self) -> None:
        self._mark = (time.monotonic(), self.read())

    def busy(self) -> dict[str, float]:
        """CPU seconds each process spent on the load since :meth:`start`."""
        began, before = self._mark
        return busy_cpu(before, self.read(), self.idle_per_second, time.monotonic() - began)

    def __enter__(self) -> CpuMeter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = self.busy()
