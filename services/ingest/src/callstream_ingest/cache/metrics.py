"""Hit rate and latency per layer: Prometheus metrics (picked up by any ``/metrics`` built
on prometheus-client's default registry) and an in-process summary for ``/v1/ops/cache``."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

from callstream_ingest.cache.policy import Layer

LOOKUPS = Counter(
    "callstream_read_cache_lookups",
    "Read cache lookups by layer and result (hit, miss, bypass, error)",
    ["layer", "result"],
)
LATENCY = Histogram(
    "callstream_read_cache_latency_seconds",
    "Time to answer a cacheable read, by layer and whether it was a hit",
    ["layer", "result"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
INVALIDATIONS = Counter(
    "callstream_read_cache_invalidations", "Version bumps by source", ["source"]
)
INVALIDATION_LAG = Histogram(
    "callstream_read_cache_invalidation_lag_seconds",
    "From the change (commit or event time) to its invalidation in Redis",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

SAMPLE = 4096


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class CacheStats:
    """Counts since start and the latest latencies, per layer."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    latencies: dict[str, deque[float]] = field(
        default_factory=lambda: defaultdict(lambda: deque(maxlen=SAMPLE))
    )
    hit_latencies: dict[str, deque[float]] = field(
        default_factory=lambda: defaultdict(lambda: deque(maxlen=SAMPLE))
    )
    invalidation_lags: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLE))
    invalidations: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    started: float = field(default_factory=time.monotonic)
    computed: int = 0
    """Answers computed from PostgreSQL (one per key under concurrent misses)."""
    refreshed: int = 0
    """Of those, answers recomputed ahead of their next reader after a change."""

    def record(self, layer: Layer, result: str, seconds: float) -> None:
        self.counts[layer.value][result] += 1
        self.latencies[layer.value].append(seconds)
        if result == "hit":
            self.hit_latencies[layer.value].append(seconds)
        LOOKUPS.labels(layer.value, result).inc()
        LATENCY.labels(layer.value, "hit" if result == "hit" else "miss").observe(seconds)

    def record_many(self, layer: Layer, hits: int, misses: int, seconds: float) -> None:
        """Lookups of several entries answered in one go (a page's items): counted one by
        one, timed once."""
        self.counts[layer.value]["hit"] += hits
        self.counts[layer.value]["miss"] += misses
        self.latencies[layer.value].append(seconds)
        if not misses:
            self.hit_latencies[layer.value].append(seconds)
        LOOKUPS.labels(layer.value, "hit").inc(hits)
        LOOKUPS.labels(layer.value, "miss").inc(misses)
        LATENCY.labels(layer.value, "miss" if misses else "hit").observe(seconds)

    def record_invalidation(self, source: str, lag_seconds: float | None) -> None:
        self.invalidations[source] += 1
        INVALIDATIONS.labels(source).inc()
        if lag_seconds is not None and lag_seconds >= 0:
            self.invalidation_lags.append(lag_seconds)
            INVALIDATION_LAG.observe(lag_seconds)

    def reset(self) -> None:
        self.counts.clear()
        self.latencies.clear()
        self.hit_latencies.clear()
        self.invalidation_lags.clear()
        self.invalidations.clear()
        self.computed = 0
        self.refreshed = 0

    def summary(self) -> dict[str, object]:
        layers: dict[str, object] = {}
        for layer in Layer:
            c = self.counts.get(layer.value, {})
            hits, misses = c.get("hit", 0), c.get("miss", 0)
            lat = list(self.latencies.get(layer.value, ()))
            hit_lat = list(self.hit_latencies.get(layer.value, ()))
            layers[layer.value] = {
                "hits": hits,
                "misses": misses,
                "bypassed": c.get("bypass", 0),
                "errors": c.get("error", 0),
                "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
                "latency_ms": {
                    "p50": _ms(_percentile(lat, 50)),
                    "p95": _ms(_percentile(lat, 95)),
                    "p99": _ms(_percentile(lat, 99)),
                },
                "hit_latency_ms": {
                    "p50": _ms(_percentile(hit_lat, 50)),
                    "p95": _ms(_percentile(hit_lat, 95)),
                },
            }
        lags = list(self.invalidation_lags)
        return {
            "computed": self.computed,
            "refreshed": self.refreshed,
            "layers": layers,
            "invalidations": dict(self.invalidations),
            "invalidation_lag_ms": {
                "p50": _ms(_percentile(lags, 50)),
                "p99": _ms(_percentile(lags, 99)),
                "max": _ms(max(lags) if lags else None),
            },
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
