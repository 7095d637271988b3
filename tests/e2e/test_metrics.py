"""What an operator scrapes: after a processed call (one Slack failure retried on the way)
and a poison record, every service's ``/metrics`` carries its series with real counts,
and ``callstream lag`` reads each stage's consumer lag from Kafka."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import METRICS_TOKEN

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

STAGES = ("transcriber", "analyzer", "notifier", "compactor")
STAGE_INPUT = {
    "transcriber": "calls.uploaded",
    "analyzer": "calls.transcribed",
    "notifier": "calls.analyzed",
    "compactor": "calls.analyzed",
}


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(rows: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """Sum of every sample of ``name`` whose labels include ``labels``."""
    return sum(
        v for n, lab, v in rows if n == name and all(lab.get(k) == w for k, w in labels.items())
    )


def scrape(url: str, token: str = METRICS_TOKEN) -> list[tuple[str, dict[str, str], float]]:
    r = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return samples(r.text)


def poll(fn: Any, timeout: float = 120, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(interval)


async def publish_poison(bootstrap: str, topic: str) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"schema_version": 99, "poison": "metrics-test"}')
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def processed_call(services: Any, tokens: dict[str, str], sample_wav: Any, fake_slack: Any) -> str:
    """One call through every stage; Slack rate-limits it once for longer than the notifier
    waits in process, so the stage retries it through its retry topic."""
    fake_slack.fail_next(1, status=429, retry_after=11, path="/api/chat.postMessage")
    with sample_wav.open("rb") as fh:
        r = httpx.post(
            f"{services.base_url}/v1/conversations",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            files={"file": ("call.wav", fh, "audio/wav")},
            data={"opportunity_name": "Metrics Ltd", "rep_id": "rep-a"},
            timeout=60,
        )
    assert r.status_code == 202, r.text
    cid: str = r.json()["id"]
    url = f"{services.base_url}/v1/conversations/{cid}"
    done = poll(
        lambda: (
            httpx.get(url, headers={"Authorization": f"Bearer {tokens['admin']}"}).json()["status"]
            in ("completed", "failed")
        ),
        timeout=300,
    )
    assert done
    return cid


def test_ingest_metrics_need_the_scrape_token_or_an_admin(
    services: Any, tokens: dict[str, str]
) -> None:
    url = services.metrics_url("ingest")
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    user = httpx.get(url, headers={"Authorization": f"Bearer {tokens['user_a']}"})
    assert user.status_code == 403
    assert user.json()["error"]["code"] == "forbidden"
    for token in (METRICS_TOKEN, tokens["admin"]):
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def answering(url: str, timeout: float = 60) -> httpx.Response:
    """The first answer of a metrics port: a stage restarted by an earlier test (graceful
    shutdown) opens it only once its broker is connected again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_service_metrics_ports_need_the_scrape_token(services: Any) -> None:
    for stage in STAGES:
        url = services.metrics_url(stage)
        answering(url)
        for header in ({}, {"Authorization": "Bearer wrong"}):
            r = httpx.get(url, headers=header)
            assert r.status_code == 401, stage
            assert r.json()["error"]["code"] == "unauthorized"
            assert METRICS_TOKEN not in r.text
        assert httpx.get(url.replace("/metrics", "/health")).status_code == 200


def test_ingest_exposes_http_upload_publish_and_outbox_series(
    services: Any, tokens: dict[str, str], processed_call: str, sample_wav: Any
) -> None:
    rows = scrape(services.metrics_url("ingest"))
    upload = {"method": "POST", "route": "/v1/conversations", "status": "202"}
    assert value(rows, "callstream_http_request_duration_seconds_count", **upload) >= 1
    assert value(rows, "callstream_upload_size_bytes_count", outcome="accepted") >= 1
    assert (
        value(rows, "callstream_upload_size_bytes_sum", outcome="accepted")
        >= sample_wav.stat().st_size
    )
    assert value(rows, "callstream_upload_duration_seconds_count", outcome="accepted") >= 1
    assert (
        value(
            rows,
            "callstream_published_messages_total",
            app_name="ingest",
            destination="calls.uploaded",
            status="success",
        )
        >= 1
    )
    assert any(n == "callstream_outbox_backlog_events" for n, _, _ in rows)
    assert any(n == "callstream_outbox_oldest_event_age_seconds" for n, _, _ in rows)


def test_every_stage_counts_its_messages_and_handler_time(
    services: Any, processed_call: str
) -> None:
    for stage in STAGES:
        rows = scrape(services.metrics_url(stage))
        topic = STAGE_INPUT[stage]
        ids = {"app_name": stage, "handler": topic}
        assert value(rows, "callstream_received_messages_total", **ids) >= 1, stage
        assert value(rows, "callstream_received_processed_messages_total", **ids) >= 1, stage
        assert (
            value(rows, "callstream_received_processed_messages_duration_seconds_count", **ids) >= 1
        ), stage
        assert (
            value(
                rows,
                "callstream_stage_handler_duration_seconds_count",
                stage=stage,
                topic=topic,
                outcome="ok",
            )
            >= 1
        ), stage
        assert any(n == "process_resident_memory_bytes" for n, _, _ in rows), stage


def test_stages_publish_their_output(services: Any, processed_call: str) -> None:
    for stage, output in (("transcriber", "calls.transcribed"), ("analyzer", "calls.analyzed")):
        rows = scrape(services.metrics_url(stage))
        assert (
            value(
                rows,
                "callstream_published_messages_total",
                app_name=stage,
                destination=output,
                status="success",
            )
            >= 1
        ), stage


def test_retries_are_counted_per_stage_and_error_class(services: Any, processed_call: str) -> None:
    rows = poll(
        lambda: (
            (r := scrape(services.metrics_url("notifier")))
            and value(r, "callstream_stage_retries_total", stage="notifier") >= 1
            and r
        ),
        timeout=60,
    )
    assert rows, "the notifier never counted its Slack retry"
    retried = [lab for n, lab, v in rows if n == "callstream_stage_retries_total" and v >= 1]
    assert all(lab["error_class"] and lab["topic"] == "calls.analyzed" for lab in retried)


def test_dead_letters_are_counted_and_recorded(
    services: Any, endpoints: Any, processed_call: str
) -> None:
    asyncio.run(publish_poison(endpoints.kafka_bootstrap, "calls.transcribed"))
    dead = {
        "stage": "analyzer",
        "topic": "calls.transcribed",
        "error_class": "UnknownSchemaVersion",
        "reason": "permanent",
    }
    rows = poll(
        lambda: (
            (r := scrape(services.metrics_url("analyzer")))
            and value(r, "callstream_stage_dead_letters_total", **dead) >= 1
            and r
        ),
        timeout=60,
    )
    assert rows, "the analyzer never counted its dead letter"
    assert value(rows, "callstream_stage_handler_duration_seconds_count", outcome="dead_letter")
    recorder = poll(
        lambda: (
            value(
                scrape(services.metrics_url("notifier")),
                "callstream_received_messages_total",
                app_name="notifier",
                handler="callstream.dlq",
            )
            >= 1
        ),
        timeout=60,
    )
    assert recorder, "the DLQ recorder never received the dead letter"


def test_consumer_lag_per_group_and_partition(
    services: Any, endpoints: Any, processed_call: str
) -> None:
    for stage in STAGES:
        rows = poll(
            lambda stage=stage: [
                lab
                for n, lab, _ in scrape(services.metrics_url(stage))
                if n == "callstream_consumer_lag_messages" and lab["group"] == stage
            ],
            timeout=60,
        )
        assert rows, f"{stage} exposes no consumer lag"
        assert STAGE_INPUT[stage] in {lab["topic"] for lab in rows}
        assert all(lab["partition"].isdigit() for lab in rows)

    out = subprocess.run(
        [sys.executable, "-m", "callstream_cli.main", "lag", "--json"]
        + ["--bootstrap", endpoints.kafka_bootstrap]
        + [arg for stage in STAGES for arg in ("--group", stage)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lag = json.loads(out.stdout)
    assert {r["group"] for r in lag} == set(STAGES)
    uploaded = [r for r in lag if r["group"] == "transcriber" and r["topic"] == "calls.uploaded"]
    assert uploaded and sum(r["end"] for r in uploaded) >= 1
    for r in uploaded:
        assert r["lag"] == r["end"] - (r["committed"] if r["committed"] is not None else r["start"])
    assert sum(r["lag"] for r in uploaded) == 0, "the processed call is still uncommitted"
