"""A synthesized sales call through ingest → transcriber → analyzer → notifier, for real."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.support.calls import wait_terminal

pytestmark = [pytest.mark.stack, pytest.mark.e2e]


def zipkin_trace(
    zipkin_url: str, trace_id: str, services: set[str], timeout: float = 60
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        r = httpx.get(f"{zipkin_url}/api/v2/trace/{trace_id}")
        if r.status_code == 200:
            spans = r.json()
            seen = {s.get("localEndpoint", {}).get("serviceName") for s in spans}
            if services <= seen:
                return spans
        time.sleep(1)
    return spans


async def test_sample_call_end_to_end(
    services: Any,
    tokens: dict[str, str],
    sample_wav: Any,
    fake_slack: Any,
    endpoints: Any,
    sessions: Any,
) -> None:
    from callstream_cli.alerts import add_rule

    await add_rule(
        endpoints.database_url.get_secret_value(),
        "e2e: anything short of perfect",
        "overall_below",
        {"threshold": 5, "severity": "info"},
    )
    base = services.base_url
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    tracker = {"phrases": ["security review", "procurement"]}
    r = httpx.put(f"{base}/v1/trackers/e2e-security", json=tracker, headers=admin)
    assert r.status_code in (200, 201), r.text
    time.sleep(2)  # the analyzer re-reads trackers every second in the test stack
    started = time.monotonic()
    with sample_wav.open("rb") as fh:
        r = httpx.post(
            f"{base}/v1/conversations",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            files={"file": ("call.wav", fh, "audio/wav")},
            data={"opportunity_name": "Northwind", "rep_id": "rep-a", "title": "Discovery"},
            timeout=60,
        )
    assert r.status_code == 202, r.text
    accepted = r.json()
    cid = accepted["id"]
    conv = wait_terminal(base, tokens["admin"], cid)
    elapsed = time.monotonic() - started
    assert conv["status"] == "completed", conv.get("failure_reason")

    text = conv["transcript"]["text"].lower()
    for phrase in (
        "20 hours",
        "chief financial officer",
        "security review",
        "procurement",
        "champion",
    ):
        assert phrase in text, phrase

    dims = {d["dimension"]: d for d in conv["analysis"]["dimensions"]}
    assert set(dims) == {
        "metrics",
        "economic_buyer",
        "decision_criteria",
        "decision_process",
        "identify_pain",
        "champion",
    }
    for name in (
        "metrics",
        "economic_buyer",
        "decision_criteria",
        "decision_process",
        "identify_pain",
        "champion",
    ):
        assert dims[name]["score"] >= 2 and dims[name]["evidence"], name
        assert all(e["start"] is not None for e in dims[name]["evidence"])
    assert set(conv["timings"]) >= {"upload", "transcription", "analysis", "notification"}

    stats = conv["stats"]
    assert stats["duration_seconds"] > 30 and 0 <= stats["silence_share"] < 1
    hits = [h for h in conv["analysis"]["trackers"] if h["tracker"] == "e2e-security"]
    assert hits and all(h["start"] is not None for h in hits), conv["analysis"]["trackers"]
    assert {h["phrase"] for h in hits} <= {"security review", "procurement"}

    messages = fake_slack.wait_for_messages(2, needle=cid, timeout=30)
    alerts_sent = [m for m in messages if "rotating_light" in m.text]
    scorecards = [m for m in messages if "rotating_light" not in m.text]
    assert len(scorecards) == 1 and len(alerts_sent) == 1, [m.text[:200] for m in messages]
    assert all(m.json["channel"] == "#sales-calls" for m in messages)
    assert f"/v1/conversations/{cid}" in scorecards[0].text

    deliveries = [d for d in fake_slack.deliveries("crm") if cid in d.text]
    assert len(deliveries) == 1
    assert (deliveries[0].header("X-Callstream-Signature") or "").startswith("v1=")
    from sqlalchemy import text as sql

    async with sessions() as s:
        alerts = (
            await s.execute(
                sql("SELECT message FROM alerts WHERE conversation_id = :c"), {"c": cid}
            )
        ).all()
        sent = (
            await s.execute(
                sql("SELECT channel, status FROM notifications WHERE conversation_id = :c"),
                {"c": cid},
            )
        ).all()
    assert any("below" in a.message for a in alerts), alerts
    assert {(n.channel, n.status) for n in sent} >= {
        ("log", "sent"),
        ("slack", "sent"),
        ("slack-alert", "sent"),
        ("webhook", "sent"),
    }

    trace_id = conv["trace_id"]
    assert trace_id and accepted["trace_id"] == trace_id
    spans = zipkin_trace(
        endpoints.zipkin_url, trace_id, {"ingest", "transcriber", "analyzer", "notifier"}
    )
    seen = {s.get("localEndpoint", {}).get("serviceName") for s in spans}
    assert {"ingest", "transcriber", "analyzer", "notifier"} <= seen, seen
    print(
        f"\nend to end {elapsed:.1f}s; stages: "
        + ", ".join(f"{k}={v.get('seconds')}" for k, v in conv["timings"].items())
    )


def test_a_call_missing_dimensions_names_them_as_gaps(
    services: Any, tokens: dict[str, str], tmp_path: Any
) -> None:
    from callstream_cli.sample import synthesize

    audio = synthesize(
        [
            # Two clearly different voices, as on a real call: diarization of a mono
            # recording tells them apart and only the prospect's words count as evidence.
            ("en-us+m3", "Hi, thanks for joining. How is the weather over there?"),
            (
                "en-gb+f3",
                "It is sunny. Our team wastes hours every week fixing broken spreadsheets "
                "by hand, it is a real problem.",
            ),
            ("en-us+m3", "Sounds painful. Let us talk again next month."),
        ],
        tmp_path / "short.wav",
    )
    with audio.open("rb") as fh:
        r = httpx.post(
            f"{services.base_url}/v1/conversations",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            files={"file": ("short.wav", fh)},
            data={"opportunity_name": "Contoso", "rep_id": "rep-b"},
        )
    assert r.status_code == 202, r.text
    conv = wait_terminal(services.base_url, tokens["admin"], r.json()["id"])
    assert conv["status"] == "completed", conv.get("failure_reason")
    dims = {d["dimension"]: d for d in conv["analysis"]["dimensions"]}
    pain = dims["identify_pain"]
    assert pain["evidence"] and pain["score"] >= 3
    for name in ("economic_buyer", "champion", "decision_process"):
        # Omitted: named as a gap and scored low. Whisper's wording of the closing line
        # ("let's talk again next month") sometimes reads as a weak hint, hence <= 2.
        assert dims[name]["gaps"] and dims[name]["score"] <= 2 < pain["score"], dims[name]


def test_a_high_priority_call_overtakes_a_backlog(
    services: Any, tokens: dict[str, str], sample_wav: Any
) -> None:
    """Five normal calls queue up in the transcriber; a priority-9 call sent after them
    travels in the priority lane and is done before the backlog is."""
    base, token = services.base_url, tokens["admin"]
    wav = sample_wav.read_bytes()

    def upload(priority: int) -> str:
        r = httpx.post(
            f"{base}/v1/conversations",
            params={
                "opportunity_name": f"lane-{priority}",
                "rep_id": "rep-a",
                "priority": priority,
            },
            content=wav,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    backlog = [upload(3) for _ in range(5)]
    urgent = upload(9)
    done = {cid: wait_terminal(base, token, cid) for cid in [urgent, *backlog]}
    assert all(c["status"] == "completed" for c in done.values())
    finished = {cid: c["completed_at"] for cid, c in done.items()}
    later = [cid for cid in backlog if finished[cid] > finished[urgent]]
    assert len(later) >= 3, (
        f"urgent {finished[urgent]}, backlog {sorted(finished[c] for c in backlog)}"
    )
