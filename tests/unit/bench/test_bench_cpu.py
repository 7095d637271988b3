"""The benchmarks' CPU accounting: whole process trees, idle time left out, and what the
measured cost allows at most."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from bench.cpu import BENCH_CLIENT, CpuMeter, busy_cpu, process_table, tree_cpu_seconds
from bench.stage_profile import cpu_ceiling


def test_a_tree_counts_the_server_and_every_descendant_but_nothing_else() -> None:
    table = {
        1: (0, 100.0),
        10: (1, 2.0),  # a server (PostgreSQL's postmaster)
        11: (10, 0.5),  # a backend
        12: (10, 0.25),  # another backend
        13: (11, 0.125),  # a grandchild
        20: (1, 7.0),  # someone else
    }
    assert tree_cpu_seconds(10, table) == 2.875
    assert tree_cpu_seconds(20, table) == 7.0
    assert tree_cpu_seconds(99, table) == 0.0


def test_this_process_is_in_the_table_with_its_parent() -> None:
    table = process_table()
    parent, cpu = table[os.getpid()]
    assert parent == os.getppid()
    assert cpu >= 0


def test_the_ceiling_is_what_every_core_busy_allows_with_and_without_our_services() -> None:
    per_call = {
        "ingest": 20.0,
        "transcriber": 10.0,
        "kafka": 6.0,
        "postgres": 4.0,
        BENCH_CLIENT: 2.0,
    }
    ceiling = cpu_ceiling(per_call, ["kafka", "postgres"], cores=2)
    assert ceiling["services_ms"] == 30.0
    assert ceiling["servers_ms"] == 10.0
    assert ceiling["client_ms"] == 2.0
    assert ceiling["total_ms"] == 42.0
    assert ceiling["calls_per_second_at_most"] == pytest.approx(2000 / 42, abs=0.05)
    assert ceiling["calls_per_second_at_most_with_free_services"] == pytest.approx(2000 / 12, 0.01)


def test_no_measured_cost_gives_no_ceiling() -> None:
    assert cpu_ceiling({}, [], cores=2)["calls_per_second_at_most"] is None


def test_what_a_process_spends_idle_is_not_put_on_the_calls() -> None:
    before = {"kafka": 100.0, "ingest": 10.0, "gone": 1.0}
    after = {"kafka": 106.0, "ingest": 12.0}
    busy = busy_cpu(before, after, {"kafka": 0.1}, window=30.0)
    assert busy == pytest.approx({"kafka": 3.0, "ingest": 2.0})


async def test_a_meter_counts_the_work_done_since_its_start_and_not_the_idle_time() -> None:
    meter = CpuMeter({})
    await meter.measure_idle(0.2)
    meter.start()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    await asyncio.sleep(0.2)
    assert 0.25 <= meter.busy()[BENCH_CLIENT] <= 0.6


def test_a_meter_over_a_block_keeps_what_each_process_used_and_leaves_out_unknown_ones() -> None:
    with CpuMeter({"this": os.getpid(), "gone": None}, client=False) as meter:
        deadline = time.process_time() + 0.2
        while time.process_time() < deadline:
            pass
    assert set(meter.used) == {"this"}
    assert meter.used["this"] >= 0.15
