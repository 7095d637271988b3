"""What ``make bench-read`` prints: latency per phase and endpoint, hit rates of the
users' requests, per-layer lookups, the warm-up, the load average and the stale window."""

from __future__ import annotations

from typing import Any

from bench.common import console, fmt_ms, print_table

ENDPOINTS = ("list", "search", "detail", "dashboard", "performance")


PHASES = {
    "cold": "cold",
    "warm": "warm (passes pooled)",
    "cache_on": "steady, cached",
    "steady_hits": "steady, cache hits only",
    "cache_off": "steady, uncached (baseline)",
}


def report(result: dict[str, Any], seeded: int, seed_seconds: float) -> None:
    rows = []
    for phase, label in PHASES.items():
        for kind in ENDPOINTS:
            s = result[phase].get(kind)
            if s:
                rows.append([label, kind, s.n, fmt_ms(s.p50), fmt_ms(s.p95), fmt_ms(s.p99)])
    passes = result.get("warm_passes", [])
    if passes:
        console.print(
            f"warm p95 of each of the {len(passes)} passes: "
            + "; ".join(
                f"{kind} " + " / ".join(fmt_ms(p[kind].p95) for p in passes if kind in p)
                for kind in ("list", "detail")
            )
        )
    saturation = result["saturation"]
    alone = result["cold_dashboard_alone"]
    console.print(
        "dashboard cold, computed alone: "
        + ", ".join(f"{role} {fmt_ms(seconds)}" for role, seconds in alone.items())
    )
    print_table(
        f"read API, {seeded:,} calls seeded in {seed_seconds:.0f}s, {result['users']} users"
        f" thinking {result['think_seconds']:g} s on average",
        ["phase", "endpoint", "requests", "p50", "p95", "p99"],
        rows,
        caption=(
            f"saturated (no think time): cached {saturation['cached_per_second']:.0f} req/s vs"
            f" uncached {saturation['uncached_per_second']:.0f} req/s;"
            f" {result['calls_completed_during_run']} calls completed during the run"
            f" ({result['calls_per_minute']:g}/min)"
        ),
    )
    rates = result["hit_rate"]
    groups = (*ENDPOINTS, "role:user", "role:manager", "role:admin", "all")
    columns = [g for g in groups if g in rates["steady"]]
    print_table(
        "share of the users' requests answered entirely from the cache (X-Cache: hit);"
        " partial: a list's page cached, some items re-read",
        ["", *columns],
        [
            [phase, *(f"{rates[phase].get(k, 0) * 100:.1f}%" for k in columns)]
            for phase in ("warm", "steady", "steady_partial")
        ],
    )
    load = result["load_average"]
    warm = result["warm_up"]
    console.print(
        f"load average (1/5/15 min) at start {'/'.join(f'{x:.1f}' for x in load['start'])},"
        f" at end {'/'.join(f'{x:.1f}' for x in load['end'])}; warm-up:"
        f" {warm['history_requests']} details opened once, then"
        f" {len(warm['window_hit_rates'])} windows of {warm['window_seconds']:g} s: "
        + ", ".join(f"{r * 100:.1f}%" for r in warm["window_hit_rates"])
    )
    layers = result["cache"]["layers"]
    print_table(
        "cache per layer, steady state, every lookup (users and the pipeline poller)",
        ["layer", "hits", "misses", "hit rate", "p50", "p95"],
        [
            [
                name,
                v["hits"],
                v["misses"],
                f"{(v['hit_rate'] or 0) * 100:.1f}%",
                f"{v['latency_ms']['p50']} ms",
                f"{v['latency_ms']['p95']} ms",
            ]
            for name, v in layers.items()
        ],
    )
    share = result["client_share"]
    console.print(
        "the client's own share, one cached list page back to back: users' client p50 "
        f"{fmt_ms(share['client'].p50)} / p95 {fmt_ms(share['client'].p95)}, bare socket p50 "
        f"{fmt_ms(share['socket'].p50)} / p95 {fmt_ms(share['socket'].p95)}"
    )
    delay = result["invalidation_delay"]
    if delay:
        console.print(
            f"stale-read window (commit → last stale answer sent): p50 {fmt_ms(delay.p50)}, "
            f"p99 {fmt_ms(delay.p99)}, max {fmt_ms(delay.max)} over {delay.n} calls"
        )
