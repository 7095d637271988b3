"""A batch of calls in flight while everything that can break, breaks.

With the ``instant`` transcriber a few hundred calls go through the real pipeline (HTTP
upload, object store, PostgreSQL, three Kafka hops, Slack) in a couple of minutes. While they
are in flight, every service is ``SIGKILL``ed once, the Kafka broker and PostgreSQL are
restarted, the object store is down for 30 s, the fake Slack answers 429 and then 500 for a
while, and poison records (malformed JSON, an unknown schema version, a payload that fails
validation) land on every stage topic and priority lane. Afterwards:

* every accepted call is terminal: completed, or failed with its reason and a DLQ entry;
* no call is lost, no Slack notification is lost or sent twice;
* every poison record is in the DLQ with its reason, and the calls right behind it flowed;
* replaying a DLQ entry once its fault is fixed completes that call.

The figures are printed (``pytest -s``) and saved to ``bench/results/faults.json``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from callstream_cli.stack.settings import project_root
from callstream_common.objectstore import ObjectStore
from tests.support.faults import (
    FaultInjector,
    Figures,
    LoadGenerator,
    Poison,
    Submitted,
    consumers_of,
    poison_records,
    poison_topics,
    publish_poison,
    slack_counts,
    small_wav,
)

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

CALLS = int(os.environ.get("CALLSTREAM_FAULT_CALLS", "240"))
RATE = float(os.environ.get("CALLSTREAM_FAULT_RATE", "2.2"))
DRAIN_TIMEOUT = 240.0
RESULTS = project_root() / "bench" / "results" / "faults.json"

POISON_AT = 2.0
#: Calls uploaded this long after the poison records must complete before the first kill.
POISON_WINDOW = 6.0
FIRST_KILL_AT = 16.0
KILL_EVERY = 4.0
KILLED = ("notifier", "transcriber", "analyzer", "compactor", "ingest")
SLACK_FAULT_AT = FIRST_KILL_AT + KILL_EVERY * len(KILLED)
KAFKA_AT = SLACK_FAULT_AT + 4.0
S3_OUTAGE_SECONDS = 30.0
#: Calls uploaded just before the object-store outage, due (``not_before``) in its middle:
#: the transcriber cannot fetch their recordings and must ride the outage out.
PARKED_CALLS = 10
PARKED_DUE_IN = 8.0
TERMINAL = ("completed", "failed")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def slack_faults(fake_slack: Any) -> str:
    """Rate limited first (Retry-After 1 s), then server errors for 25 s."""
    path = "/api/chat.postMessage"
    fake_slack.fail_next(12, status=429, retry_after=1, path=path)
    fake_slack.fail_for(25, status=500, path=path)
    return "12 x 429 (Retry-After 1), then 500 for 25 s"


async def inject_poison(bootstrap: str, poisons: list[Poison]) -> str:
    await publish_poison(bootstrap, poisons)
    return f"{len(poisons)} records on {len({p.topic for p in poisons})} topics"


async def slack_holds_a_post(fake_slack: Any) -> bool:
    """Hold the next Slack post for 3 s (received, not yet answered) and return once one
    is held: a crash now is a crash after Slack accepted the message but before the
    notifier could mark it sent."""
    fake_slack.delay_next(1, 3.0, path="/api/chat.postMessage")
    held: bool = await asyncio.to_thread(fake_slack.wait_holding, 30.0)
    return held


async def park(gen: LoadGenerator, calls: list[Submitted]) -> str:
    calls += await gen.run()
    accepted = sum(1 for c in calls if c.conversation_id)
    return f"{accepted} calls due {PARKED_DUE_IN:.0f} s later, inside the outage"


async def run_faults(
    injector: FaultInjector,
    fake_slack: Any,
    bootstrap: str,
    poisons: list[Poison],
    parked: LoadGenerator,
    parked_calls: list[Submitted],
) -> None:
    await injector.at(POISON_AT)
    await injector.record("poison records", inject_poison(bootstrap, poisons))
    for i, name in enumerate(KILLED):
        await injector.at(FIRST_KILL_AT + KILL_EVERY * i)
        if name == "notifier":
            await injector.sigkill(
                name,
                when=lambda: slack_holds_a_post(fake_slack),
                label="while Slack is answering its post",
            )
        else:
            await injector.sigkill(name)
    await injector.at(SLACK_FAULT_AT)
    await injector.instant("fake Slack 429 then 500", lambda: slack_faults(fake_slack))
    await injector.at(KAFKA_AT)
    await injector.restart_component("kafka")
    await asyncio.sleep(5)
    await injector.restart_component("postgres")
    await asyncio.sleep(5)
    parked.extra_params["not_before"] = (
        datetime.now(UTC) + timedelta(seconds=PARKED_DUE_IN)
    ).isoformat()
    await injector.record("uploads parked", park(parked, parked_calls))
    await injector.outage("s3", S3_OUTAGE_SECONDS)


async def submit_replay_target(
    client: httpx.AsyncClient,
    base: str,
    token: str,
    audio: bytes,
    sessions: Any,
    store: ObjectStore,
) -> tuple[str, str]:
    """A call whose recording disappears from the object store before the transcriber gets
    to it (``not_before`` parks it for a few seconds, ``max_attempts=1`` fails it at once):
    failed at transcription, one DLQ entry. Returns (conversation id, object key)."""
    not_before = datetime.now(UTC) + timedelta(seconds=10)
    r = await client.post(
        f"{base}/v1/conversations",
        params={
            "opportunity_name": "Replay after the fault is fixed",
            "rep_id": "rep-a",
            "not_before": not_before.isoformat(),
            "max_attempts": "1",
        },
        content=audio,
        headers=auth(token) | {"Content-Type": "audio/wav"},
    )
    assert r.status_code == 202, r.text
    cid = str(r.json()["id"])
    async with sessions() as s:
        key = (
            await s.execute(text("SELECT object_key FROM conversations WHERE id = :c"), {"c": cid})
        ).scalar_one()
    await asyncio.to_thread(store.remove, key)
    return cid, str(key)


async def conversation_rows(sessions: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    async with sessions() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT id, status, failure_stage, failure_reason, created_at, completed_at "
                    "FROM conversations WHERE id = ANY(:ids)"
                ),
                {"ids": [uuid.UUID(i) for i in ids]},
            )
        ).mappings()
        return {str(r["id"]): dict(r) for r in rows}


async def wait_terminal(sessions: Any, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await conversation_rows(sessions, ids)
        done = all(rows.get(i, {}).get("status") in TERMINAL for i in ids)
        if done or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(1.0)


async def dlq_entries_since(sessions: Any, since: datetime) -> list[dict[str, Any]]:
    async with sessions() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT id, service, original_topic, error_class, error_message, attempts, "
                    "conversation_id, value, status, created_at FROM dlq_entries "
                    "WHERE created_at >= :since ORDER BY created_at"
                ),
                {"since": since},
            )
        ).mappings()
        return [dict(r) for r in rows]


async def wait_poison_recorded(
    sessions: Any, since: datetime, poisons: list[Poison], timeout: float = 60
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        entries = await dlq_entries_since(sessions, since)
        missing = missing_poison(entries, poisons)
        if not missing or time.monotonic() > deadline:
            return entries
        await asyncio.sleep(1.0)


def poison_entry(entries: list[dict[str, Any]], p: Poison, service: str) -> dict[str, Any] | None:
    marker = p.marker.encode()
    return next((e for e in entries if e["service"] == service and marker in e["value"]), None)


def missing_poison(entries: list[dict[str, Any]], poisons: list[Poison]) -> list[str]:
    return [
        f"{p.kind} on {p.topic} for {svc}"
        for p in poisons
        for svc in sorted(consumers_of(p.topic))
        if poison_entry(entries, p, svc) is None
    ]


async def sent_rows(sessions: Any, ids: list[str]) -> dict[tuple[str, str], int]:
    async with sessions() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT conversation_id, channel, count(*) AS n FROM notifications "
                    "WHERE status = 'sent' AND conversation_id = ANY(:ids) GROUP BY 1, 2"
                ),
                {"ids": [uuid.UUID(i) for i in ids]},
            )
        ).mappings()
        return {(str(r["conversation_id"]), r["channel"]): int(r["n"]) for r in rows}


async def recovered_deliveries(sessions: Any, ids: list[str]) -> int:
    """Notifications marked sent because a redelivery found them already in Slack."""
    async with sessions() as s:
        n = (
            await s.execute(
                text(
                    "SELECT count(*) FROM notifications WHERE conversation_id = ANY(:ids) "
                    "AND (response->>'recovered') = 'true'"
                ),
                {"ids": [uuid.UUID(i) for i in ids]},
            )
        ).scalar_one()
    return int(n)


async def wait_http_status(
    client: httpx.AsyncClient, base: str, token: str, cid: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = (
            await client.get(f"{base}/v1/conversations/{cid}", headers=auth(token))
        ).json()
        if body["status"] in TERMINAL or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.5)


async def replay(
    client: httpx.AsyncClient, base: str, token: str, cid: str, stage: str | None = None
) -> dict[str, Any] | None:
    """Replay the call's open DLQ entry (through the ops API); return the call once terminal,
    None if it has no open entry."""
    params: dict[str, Any] = {"status": "new", "limit": 500}
    if stage is not None:
        params["stage"] = stage
    listed = (await client.get(f"{base}/v1/ops/dlq", params=params, headers=auth(token))).json()
    entry = next((e for e in listed["entries"] if e["conversation_id"] == cid), None)
    if entry is None:
        return None
    r = await client.post(f"{base}/v1/ops/dlq/{entry['id']}/replay", headers=auth(token))
    assert r.status_code == 202, r.text
    return await wait_http_status(client, base, token, cid)


async def test_a_batch_in_flight_survives_crashes_outages_and_poison(
    fault_services: Any,
    stack: Any,
    fake_slack: Any,
    tokens: dict[str, str],
    sessions: Any,
    common_settings: Any,
) -> None:
    endpoints, settings = stack
    base, admin = fault_services.base_url, tokens["admin"]
    store = ObjectStore(common_settings)
    audio = small_wav()
    since = datetime.now(UTC) - timedelta(seconds=2)
    origin = time.monotonic()
    origin_wall = datetime.now(UTC)
    injector = FaultInjector(fault_services, settings, origin)
    poisons = poison_records(poison_topics())
    problems: list[str] = []

    async with httpx.AsyncClient(timeout=30) as client, injector.supervising():
        target, target_key = await submit_replay_target(client, base, admin, audio, sessions, store)
        load = LoadGenerator(base, admin, count=CALLS, rate=RATE, rep_id="rep-a", audio=audio)
        parked = LoadGenerator(
            base, admin, count=PARKED_CALLS, rate=20, rep_id="rep-a", audio=audio
        )
        parked_calls: list[Submitted] = []
        load_task = asyncio.create_task(load.run())
        try:
            await run_faults(
                injector, fake_slack, endpoints.kafka_bootstrap, poisons, parked, parked_calls
            )
        except BaseException:
            load_task.cancel()
            raise
        finally:
            fake_slack.clear_faults()
        calls: list[Submitted] = [*await load_task, *parked_calls]
        faults_over = time.monotonic()

        submitted = [c for c in calls if c.conversation_id is not None]
        ids = [str(c.conversation_id) for c in submitted]
        rows = await wait_terminal(sessions, [*ids, target], DRAIN_TIMEOUT)
        all_terminal = time.monotonic()

        # -- every accepted call is terminal; failed ones say why and are in the DLQ
        rejected = [f"#{c.index}: {c.rejected}" for c in calls if c.rejected]
        never = [c.index for c in calls if c.conversation_id is None and not c.rejected]
        if rejected:
            problems.append(f"uploads refused: {rejected[:5]}")
        if never:
            problems.append(f"{len(never)} uploads never accepted: {never[:10]}")
        lost = [i for i in ids if rows.get(i, {}).get("status") not in TERMINAL]
        if lost:
            statuses = Counter(rows.get(i, {}).get("status") for i in lost)
            problems.append(f"{len(lost)} calls lost (not terminal): {dict(statuses)} {lost[:5]}")
        failed = [i for i in ids if rows.get(i, {}).get("status") == "failed"]
        completed = [i for i in ids if rows.get(i, {}).get("status") == "completed"]
        entries = await wait_poison_recorded(sessions, since, poisons)
        with_entry = {str(e["conversation_id"]) for e in entries if e["conversation_id"]}
        for i in failed:
            if not rows[i]["failure_reason"] or i not in with_entry:
                problems.append(f"failed call {i} has no reason or no DLQ entry: {rows[i]}")

        # -- poison: each in the DLQ with its reason, once per consuming service
        poison_latency: list[float] = []
        for p in poisons:
            for svc in sorted(consumers_of(p.topic)):
                e = poison_entry(entries, p, svc)
                if e is None:
                    problems.append(f"poison {p.kind} on {p.topic} not in the DLQ for {svc}")
                    continue
                if p.reason not in e["error_message"] or e["original_topic"] != p.topic:
                    problems.append(f"poison {p.kind} on {p.topic}: wrong entry {e}")
                if e["attempts"] != 1:
                    problems.append(f"poison {p.kind} on {p.topic} was retried: {e['attempts']}")
                poison_latency.append((e["created_at"] - origin_wall).total_seconds() - POISON_AT)
        # ... and the calls right behind it were not held up.
        first_kill = next(ev for ev in injector.events if ev.name.startswith("SIGKILL"))
        kill_wall = origin_wall + timedelta(seconds=first_kill.started)
        behind = [
            str(c.conversation_id)
            for c in submitted
            if POISON_AT <= c.started - origin <= POISON_AT + POISON_WINDOW
        ]
        held_up = [
            i
            for i in behind
            if rows.get(i, {}).get("status") != "completed" or rows[i]["completed_at"] > kill_wall
        ]
        if not behind or held_up:
            problems.append(f"calls behind the poison held up: {held_up} of {len(behind)}")
        behind_latency = [
            (rows[i]["completed_at"] - rows[i]["created_at"]).total_seconds()
            for i in behind
            if rows.get(i, {}).get("completed_at") is not None
        ]

        # ... and the calls parked into the object-store outage waited for it to end: none
        # completed before the object store began to start again.
        outage_end = origin_wall + timedelta(seconds=injector.restarting["s3"])
        parked_ids = [str(c.conversation_id) for c in parked_calls if c.conversation_id]
        early = [
            i
            for i in parked_ids
            if rows.get(i, {}).get("status") == "completed" and rows[i]["completed_at"] < outage_end
        ]
        if len(parked_ids) != PARKED_CALLS or early:
            problems.append(f"parked calls: {len(parked_ids)} accepted, {early} done too early")

        # -- replay: the call whose recording vanished, once the recording is back
        replayed, replay_completed = 0, 0
        t = rows.get(target, {})
        if t.get("status") != "failed" or t.get("failure_stage") != "transcription":
            problems.append(f"the replay target did not fail at transcription: {t}")
        else:
            await asyncio.to_thread(store.put_bytes, target_key, audio, "audio/wav")
            done = await replay(client, base, admin, target, stage="transcriber")
            replayed += 1
            if done is None or done["status"] != "completed":
                problems.append(f"replayed target did not complete: {done}")
            else:
                replay_completed += 1
        # Calls that failed because of the faults: the faults are over, a replay completes them.
        for i in failed:
            done = await replay(client, base, admin, i)
            if done is None:
                problems.append(f"failed call {i} has no open DLQ entry to replay")
                continue
            replayed += 1
            if done["status"] == "completed":
                replay_completed += 1
            else:
                problems.append(f"replayed call {i} did not complete: {done['failure_reason']}")
        finished = time.monotonic()

    # -- notifications: exactly one scorecard per completed call, none doubled
    final = await conversation_rows(sessions, [*ids, target])
    done_ids = [i for i, r in final.items() if r["status"] == "completed"]
    scorecards, alerts = slack_counts(fake_slack.messages)
    doubled = {i: n for i, n in scorecards.items() if i in final and n > 1}
    doubled_alerts = {i: n for i, n in alerts.items() if i in final and n > 1}
    sent = await sent_rows(sessions, [*ids, target])
    doubled_rows = {k: n for k, n in sent.items() if n > 1}
    missing_slack = [i for i in done_ids if scorecards[i] == 0 or (i, "slack") not in sent]
    duplicates = (
        sum(n - 1 for n in doubled.values())
        + sum(n - 1 for n in doubled_alerts.values())
        + sum(n - 1 for n in doubled_rows.values())
    )
    if duplicates:
        problems.append(
            f"duplicated notifications: scorecards {doubled}, alerts {doubled_alerts}, "
            f"sent rows {doubled_rows}"
        )
    if missing_slack:
        problems.append(
            f"{len(missing_slack)} completed calls without a scorecard: {missing_slack[:5]}"
        )
    recovered = await recovered_deliveries(sessions, [*ids, target])
    if recovered < 1:
        problems.append("the notifier killed during a Slack post never found its message")
    webhooks = Counter(r.header("x-callstream-event-id") for r in fake_slack.deliveries("crm"))

    entries = await dlq_entries_since(sessions, since)
    markers = [p.marker.encode() for p in poisons]
    poison_entries = [e for e in entries if any(m in e["value"] for m in markers)]
    call_ids = {*ids, target}
    call_entries = [e for e in entries if str(e["conversation_id"]) in call_ids]
    # Events of conversations that were never created: an upload answered 503 ("nothing was
    # stored") whose event the producer still delivered once Kafka was back.
    others = [str(e["conversation_id"]) for e in entries if e["conversation_id"]]
    existing = await conversation_rows(sessions, others)
    unknown = [
        e for e in entries if e["conversation_id"] and str(e["conversation_id"]) not in existing
    ]
    upload_errors: Counter[str] = Counter()
    for c in calls:
        upload_errors.update(c.errors)
    figures = Figures(
        calls=len(submitted),
        completed=len(completed),
        failed=len(failed),
        dlq_entries=len(entries),
        dlq_poison=len(poison_entries),
        dlq_calls=len(call_entries),
        dlq_unknown_conversations=len(unknown),
        duplicates=duplicates,
        lost=len(lost),
        lost_notifications=len(missing_slack),
        poison_published=len(poisons),
        replayed=replayed,
        replay_completed=replay_completed,
        upload_retries=sum(upload_errors.values()),
        seconds=round(all_terminal - origin, 1),
        seconds_to_drain_after_faults=round(all_terminal - faults_over, 1),
        faults=sorted(injector.events, key=lambda e: e.started),
        notes={
            "calls_requested": CALLS,
            "upload_rate_per_second": RATE,
            "upload_errors": dict(upload_errors),
            "poison_to_dlq_seconds_max": round(max(poison_latency, default=0.0), 2),
            "calls_behind_poison": len(behind),
            "calls_behind_poison_latency_seconds_max": round(max(behind_latency, default=0), 2),
            "dlq_other_entries": len(entries)
            - len(poison_entries)
            - len(call_entries)
            - len(unknown),
            "dlq_call_entries_by_service": dict(Counter(e["service"] for e in call_entries)),
            "slack_deliveries_recovered_from_history": recovered,
            "webhook_redeliveries": sum(n - 1 for n in webhooks.values() if n > 1),
            "seconds_including_replays": round(finished - origin, 1),
            "priority_calls": sum(1 for c in submitted if c.priority >= 8),
            "parked_into_s3_outage": len(parked_ids),
            "supervisor_restarts": dict(injector.restarts),
        },
    )
    print(figures.table())
    print(f"notes: {figures.notes}")
    figures.write(RESULTS)
    assert not problems, "\n".join(problems)
