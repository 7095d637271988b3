"""The DLQ as operators see it: recorded with its reason, reported, replayed, discarded."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.stack


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def poll(fn: Any, timeout: float = 90, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def find_entry(base: str, token: str, marker: str, stage: str) -> dict[str, Any] | None:
    entries = httpx.get(f"{base}/v1/ops/dlq", params={"stage": stage}, headers=auth(token)).json()[
        "entries"
    ]
    for e in entries:
        full = httpx.get(f"{base}/v1/ops/dlq/{e['id']}", headers=auth(token)).json()
        if marker in str(full.get("payload_raw", "")) + str(full.get("payload", "")):
            return full
    return None


async def test_poison_record_is_recorded_with_its_reason_and_can_be_discarded(
    services: Any, tokens: dict[str, str], common_settings: Any
) -> None:
    from callstream_common import topics
    from callstream_common.kafka import make_broker

    marker = uuid.uuid4().hex
    broker = make_broker(common_settings)
    async with broker:
        await broker.start()
        await broker.publish(f'{{"marker": "{marker}", broken'.encode(), topics.CALLS_TRANSCRIBED)
    base, admin = services.base_url, tokens["admin"]
    entry = poll(lambda: find_entry(base, admin, marker, "analyzer"))
    assert entry, "the poison record never reached the DLQ table"
    assert "malformed JSON" in entry["error_message"]
    assert entry["original_topic"] == topics.CALLS_TRANSCRIBED
    assert entry["error_class"].endswith("PermanentError") and entry["attempts"] == 1

    status = httpx.get(f"{base}/v1/ops/dlq/status", headers=auth(admin)).json()
    assert status["by_stage"].get("analyzer", 0) >= 1 and status["oldest_open_entry_at"]

    manager = httpx.post(
        f"{base}/v1/ops/dlq/{entry['id']}/discard", headers=auth(tokens["manager"])
    )
    assert manager.status_code == 403
    assert httpx.get(f"{base}/v1/ops/dlq", headers=auth(tokens["user_a"])).status_code == 403
    done = httpx.post(f"{base}/v1/ops/dlq/{entry['id']}/discard", headers=auth(admin))
    assert done.status_code == 200 and done.json()["status"] == "discarded"
    again = httpx.post(f"{base}/v1/ops/dlq/{entry['id']}/discard", headers=auth(admin))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_resolved"


def test_replay_after_the_fault_is_fixed_completes_the_call(
    services: Any, tokens: dict[str, str], sample_wav: Any, common_settings: Any
) -> None:
    """The fault: the stored recording is broken (permanent failure, DLQ, call failed).
    The fix: the good recording is put back. The replay: the call completes."""
    from callstream_common.objectstore import ObjectStore

    base, admin = services.base_url, tokens["admin"]
    good = sample_wav.read_bytes()
    r = httpx.post(
        f"{base}/v1/conversations",
        params={"opportunity_name": "Replay Inc", "rep_id": "rep-a"},
        content=good[: len(good) // 4],
        headers=auth(admin),
    )
    assert r.status_code == 202, r.text
    cid = r.json()["id"]
    conv_url = f"{base}/v1/conversations/{cid}"
    failed = poll(
        lambda: (c := httpx.get(conv_url, headers=auth(admin)).json())["status"] == "failed" and c
    )
    assert failed and failed["failure_stage"] == "transcription"

    entry = poll(
        lambda: next(
            (
                e
                for e in httpx.get(
                    f"{base}/v1/ops/dlq", params={"stage": "transcriber"}, headers=auth(admin)
                ).json()["entries"]
                if e["conversation_id"] == cid
            ),
            None,
        )
    )
    assert entry and entry["status"] == "new"

    store = ObjectStore(common_settings)
    key = httpx.get(f"{base}/v1/ops/dlq/{entry['id']}", headers=auth(admin)).json()["payload"][
        "object_key"
    ]
    store.put_bytes(key, good, "audio/wav")

    replayed = httpx.post(f"{base}/v1/ops/dlq/{entry['id']}/replay", headers=auth(admin))
    assert replayed.status_code == 202, replayed.text
    done = poll(
        lambda: (
            (c := httpx.get(conv_url, headers=auth(admin)).json())["status"] == "completed" and c
        ),
        timeout=180,
    )
    assert done, httpx.get(conv_url, headers=auth(admin)).json()
    assert done["analysis"]["overall_score"] >= 1
    again = httpx.post(f"{base}/v1/ops/dlq/{entry['id']}/replay", headers=auth(admin))
    assert again.status_code == 409


def test_job_status_reports_counts_failures_and_stage_times(
    services: Any, tokens: dict[str, str]
) -> None:
    body = httpx.get(
        f"{services.base_url}/v1/ops/jobs/status", headers=auth(tokens["manager"])
    ).json()
    assert set(body) == {"counts", "recent_failures", "stage_seconds", "mean_end_to_end_seconds"}
    assert all(isinstance(n, int) for n in body["counts"].values())
