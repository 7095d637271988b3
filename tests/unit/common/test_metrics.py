"""The metrics endpoint of the FastStream services and the consumer-lag arithmetic."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callstream_common import lag, metrics


def call(app: Any, path: str, authorization: str | None = None) -> tuple[str, bytes]:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    body = b"".join(app(environ, start_response))
    return seen["status"], body


def test_open_metrics_port_serves_the_registry() -> None:
    app = metrics.metrics_wsgi_app(token=None)
    status, body = call(app, "/metrics")
    assert status.startswith("200")
    assert b"callstream_stage_retries_total" in body
    assert b"process_resident_memory_bytes" in body or b"python_info" in body


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "401"),
        ("Bearer wrong", "401"),
        ("Basic c2NyYXBlOnRva2Vu", "401"),
        ("Bearer scrape-token", "200"),
        ("bearer  scrape-token ", "200"),
    ],
)
def test_scrape_token_guards_metrics(header: str | None, expected: str) -> None:
    app = metrics.metrics_wsgi_app(token="scrape-token")
    status, body = call(app, "/metrics", header)
    assert status.startswith(expected)
    if expected == "401":
        assert b'"unauthorized"' in body and b"scrape-token" not in body


def test_health_is_open_and_other_paths_are_not_found() -> None:
    app = metrics.metrics_wsgi_app(token="scrape-token")
    assert call(app, "/health")[0].startswith("200")
    status, body = call(app, "/admin")
    assert status.startswith("404") and b"not_found" in body


def test_metrics_server_answers_on_its_port_and_stops() -> None:
    server = metrics.MetricsServer("127.0.0.1", 0, token=None)
    server.start()
    try:
        r = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        assert r.status_code == 200
        assert "callstream_consumer_lag_messages" in r.text
    finally:
        server.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=2)


def test_lag_counts_from_the_commit_or_from_the_first_offset() -> None:
    committed = lag.PartitionLag("g", "t", 0, committed=40, start=0, end=50)
    never = lag.PartitionLag("g", "t", 1, committed=None, start=5, end=12)
    ahead = lag.PartitionLag("h", "t", 0, committed=9, start=0, end=7)
    assert (committed.lag, never.lag, ahead.lag) == (10, 7, 0)
    assert lag.lag_by_group([committed, never, ahead]) == {"g": 17, "h": 0}


def test_lag_gauge_follows_reads_and_forgets_gone_partitions() -> None:
    def gauge(group: str, partition: str) -> float | None:
        from prometheus_client import REGISTRY

        return REGISTRY.get_sample_value(
            "callstream_consumer_lag_messages",
            {"group": group, "topic": "unit.topic", "partition": partition},
        )

    seen = lag.publish(
        [
            lag.PartitionLag("unit-g", "unit.topic", 0, 3, 0, 10),
            lag.PartitionLag("unit-g", "unit.topic", 1, None, 0, 4),
        ],
        set(),
    )
    assert (gauge("unit-g", "0"), gauge("unit-g", "1")) == (7, 4)
    lag.publish([lag.PartitionLag("unit-g", "unit.topic", 0, 10, 0, 10)], seen)
    assert (gauge("unit-g", "0"), gauge("unit-g", "1")) == (0, None)


def test_subscriptions_name_each_group_and_its_topics() -> None:
    from faststream.kafka import KafkaBroker

    broker = KafkaBroker()

    @broker.subscriber("a", "b", group_id="g1")
    async def one(body: bytes) -> None: ...

    @broker.subscriber("c", group_id="g2")
    async def two(body: bytes) -> None: ...

    assert lag.subscriptions(broker) == {"g1": {"a", "b"}, "g2": {"c"}}
