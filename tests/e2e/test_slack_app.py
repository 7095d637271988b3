"""The Slack app end to end: signed requests from a (fake) Slack into the running services.

A recording shared in Slack gets "received" in its thread within 3 s and its scorecard in
the same thread exactly once, however often Slack delivers the event; ``/analyze`` answers
with an ephemeral scorecard; the buttons do what they say; and every request that is not
genuinely Slack's gets 401 with nothing processed or stored.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from callstream_common.db.models import Conversation, Role
from callstream_common.db.slack_models import SlackEvent, SlackUserLink
from tests.support.fake_slack import FakeSlack
from tests.support.fake_slack_app import SIGNING_SECRET, sign

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

REP_USER, MANAGER, ADMIN, MAIL_USER, STRANGER = "U0REPA", "U0MGR", "U0ADMIN", "U0MAIL", "U0NOBODY"
CHANNEL = "C0SALES"


@pytest.fixture(scope="module")
async def linked(services: Any, sessions: Any, tokens: Any, fake_slack: FakeSlack) -> None:
    """Slack users linked to callstream users (one by e-mail only)."""
    from sqlalchemy.dialects.postgresql import insert

    rows = [
        (REP_USER, None, Role.USER, "rep-a", None),
        (MANAGER, None, Role.MANAGER, None, "team-east"),
        (ADMIN, None, Role.ADMIN, None, None),
        (None, "mail.user@example.com", Role.USER, "rep-b", None),
    ]
    async with sessions() as session, session.begin():
        for slack_id, email, role, rep, team in rows:
            await session.execute(
                insert(SlackUserLink.__table__)  # type: ignore[attr-defined]
                .values(
                    id=uuid.uuid4(),
                    slack_user_id=slack_id,
                    email=email,
                    role=role,
                    rep_id=rep,
                    team_id=team,
                )
                .on_conflict_do_nothing()
            )
    fake_slack.add_user(MAIL_USER, "Mail.User@example.com")
    fake_slack.add_user(STRANGER, "stranger@example.com")


def post(base: str, path: str, body: bytes, content_type: str, **headers: str) -> httpx.Response:
    signed = {**sign(SIGNING_SECRET, body), **headers}
    return httpx.post(
        f"{base}{path}", content=body, headers={"Content-Type": content_type, **signed}, timeout=10
    )


def command(base: str, user: str, text: str, response_url: str = "") -> httpx.Response:
    form = {
        "command": "/analyze",
        "text": text,
        "user_id": user,
        "channel_id": CHANNEL,
        "team_id": "T000",
        "response_url": response_url or "https://hooks.slack.invalid/x",
        "trigger_id": uuid.uuid4().hex,
    }
    return post(
        base, "/slack/commands", urlencode(form).encode(), "application/x-www-form-urlencoded"
    )


def press(
    base: str, user: str, action_id: str, value: str, response_url: str, message: Any = None
) -> httpx.Response:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "value": value}],
        "message": message or {},
        "trigger_id": uuid.uuid4().hex,
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return post(base, "/slack/interactions", body, "application/x-www-form-urlencoded")


def file_shared(file_id: str, user: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": "T000",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "event": {
            "type": "file_shared",
            "file_id": file_id,
            "user_id": user,
            "channel_id": CHANNEL,
        },
    }


def send_event(base: str, event: dict[str, Any], retry: int | None = None) -> httpx.Response:
    extra = (
        {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
    )
    return post(base, "/slack/events", json.dumps(event).encode(), "application/json", **extra)


def score_blocks(messages: list[dict[str, Any]], cid: str) -> list[dict[str, Any]]:
    marker = f"callstream:{cid}:score"
    return [m for m in messages if marker in json.dumps(m.get("blocks") or [])]


async def conversations_for_file(sessions: Any, file_id: str) -> int:
    async with sessions() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(Conversation)
                    .where(Conversation.idempotency_key == f"slack-file:{file_id}")  # type: ignore[arg-type]
                )
            ).scalar_one()
        )


async def claim_of(sessions: Any, file_id: str) -> SlackEvent | None:
    async with sessions() as session:
        return (
            await session.execute(select(SlackEvent).where(SlackEvent.file_id == file_id))  # type: ignore[arg-type]
        ).scalar_one_or_none()


def wait_thread(
    fake: FakeSlack, channel: str, ts: str, predicate: Any, timeout: float
) -> list[dict[str, Any]]:
    fake.wait_until(lambda _: predicate(fake.thread_messages(channel, ts)), timeout)
    return fake.thread_messages(channel, ts)


# --------------------------------------------------------------------------- the happy path


async def test_shared_recording_gets_received_then_one_scorecard_in_its_thread(
    services: Any, linked: None, fake_slack: FakeSlack, sample_wav: Any, sessions: Any
) -> None:
    base = services.base_url
    file = fake_slack.add_file(sample_wav.read_bytes(), name="discovery.wav", user=REP_USER)
    event = file_shared(file.id, REP_USER)
    started = time.monotonic()
    first = send_event(base, event)
    ack_seconds = time.monotonic() - started
    assert first.status_code == 200 and ack_seconds < 3, first.text
    for retry in (1, 2):  # Slack's retries of the same event
        again = send_event(base, event, retry=retry)
        assert again.status_code == 200 and again.json().get("duplicate") is True
    # the twin ``message`` event of the same share (another event id, same file)
    twin = {
        **file_shared(file.id, REP_USER),
        "event": {
            "type": "message",
            "subtype": "file_share",
            "channel": CHANNEL,
            "user": REP_USER,
            "ts": file.ts,
            "files": [{"id": file.id}],
        },
    }
    assert send_event(base, twin).json().get("duplicate") is True

    replies = wait_thread(fake_slack, CHANNEL, file.ts, lambda m: len(m) >= 1, timeout=3)
    received_seconds = time.monotonic() - started
    assert received_seconds < 3
    print(f"\nslack file event: ack {ack_seconds:.3f} s, 'received' {received_seconds:.3f} s")
    assert "Received *discovery.wav*" in replies[0]["text"]

    async def conversation_id() -> str:
        claim = await claim_of(sessions, file.id)
        assert claim is not None
        return str(claim.conversation_id)

    deadline = time.monotonic() + 60
    while (claim := await claim_of(sessions, file.id)) is None or claim.status != "accepted":
        assert time.monotonic() < deadline, claim
        time.sleep(0.2)
    cid = await conversation_id()
    replies = wait_thread(fake_slack, CHANNEL, file.ts, lambda m: score_blocks(m, cid), timeout=300)
    time.sleep(2)  # anything doubled would arrive now
    replies = fake_slack.thread_messages(CHANNEL, file.ts)
    assert len(score_blocks(replies, cid)) == 1
    assert len([m for m in replies if "Received" in m.get("text", "")]) == 1
    assert len(fake_slack.downloads(file.id)) == 1
    assert await conversations_for_file(sessions, file.id) == 1
    async with sessions() as session:
        conv = await session.get(Conversation, uuid.UUID(cid))
        assert conv is not None and conv.rep_id == "rep-a"
        assert conv.slack_thread == {"channel": CHANNEL, "thread_ts": file.ts}
    # not in the channel itself: the scorecard is a thread reply only
    channel_posts = [m for m in fake_slack.messages if m.json.get("channel") == "#sales-calls"]
    assert not [m for m in channel_posts if f"callstream:{cid}:score" in m.text]


async def _completed_call(services: Any, tokens: Any, sample_wav: Any, title: str) -> str:
    with sample_wav.open("rb") as fh:
        r = httpx.post(
            f"{services.base_url}/v1/conversations",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            files={"file": ("call.wav", fh, "audio/wav")},
            data={"opportunity_name": f"{title} deal", "rep_id": "rep-a", "title": title},
            timeout=60,
        )
    assert r.status_code == 202, r.text
    cid = str(r.json()["id"])
    deadline = time.monotonic() + 300
    while True:
        status = httpx.get(
            f"{services.base_url}/v1/conversations/{cid}",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        ).json()["status"]
        if status in ("completed", "failed") or time.monotonic() > deadline:
            assert status == "completed"
            return cid
        time.sleep(0.5)


@pytest.fixture(scope="module")
async def analysed(services: Any, tokens: Any, sample_wav: Any, linked: None) -> str:
    return await _completed_call(services, tokens, sample_wav, f"Zephyr {uuid.uuid4().hex[:6]}")


async def test_analyze_answers_with_an_ephemeral_scorecard(services: Any, analysed: str) -> None:
    base = services.base_url
    started = time.monotonic()
    r = command(base, REP_USER, analysed)
    answered = time.monotonic() - started
    assert r.status_code == 200 and answered < 3
    print(f"\n/analyze <id>: ephemeral scorecard in {answered:.3f} s")
    body = r.json()
    assert body["response_type"] == "ephemeral"
    assert f"callstream:{analysed}:score" in json.dumps(body["blocks"])
    assert "rerun_analysis" not in json.dumps(body["blocks"])  # a user may not re-run
    manager = command(base, MANAGER, analysed).json()
    assert "rerun_analysis" in json.dumps(manager["blocks"])


async def test_analyze_by_words_help_and_the_clear_messages(
    services: Any, analysed: str, tokens: Any, sample_wav: Any, sessions: Any
) -> None:
    base = services.base_url
    async with sessions() as session:
        conv = await session.get(Conversation, uuid.UUID(analysed))
        assert conv is not None and conv.title is not None
        word = conv.title.split()[1]
    by_words = command(base, REP_USER, f"zephyr {word}").json()
    assert f"callstream:{analysed}:score" in json.dumps(by_words["blocks"])
    assert "/analyze help" in command(base, REP_USER, "help").json()["text"]
    assert (
        "/analyze <conversation id>"
        in command(base, REP_USER, "").json()["blocks"][0]["text"]["text"]
    )
    assert "not linked" in command(base, STRANGER, analysed).json()["text"]
    # rep-c's user (another team) does not see rep-a's call: same answer as nothing found
    async with sessions() as session, session.begin():
        if (
            await session.execute(
                select(SlackUserLink).where(SlackUserLink.slack_user_id == "U0REPC")  # type: ignore[arg-type]
            )
        ).scalar_one_or_none() is None:
            session.add(SlackUserLink(slack_user_id="U0REPC", role=Role.USER, rep_id="rep-c"))
    assert "No call you can see" in command(base, "U0REPC", analysed).json()["text"]
    assert "No call you can see" in command(base, REP_USER, "no-such-words-anywhere").json()["text"]
    # linked by e-mail only: users.info's address finds the link
    assert f"callstream:{analysed}:score" not in json.dumps(
        command(base, MAIL_USER, analysed).json()
    )
    assert "not linked" not in command(base, MAIL_USER, analysed).json()["text"]


async def test_rerun_button_needs_a_manager_and_posts_a_new_scorecard(
    services: Any, tokens: Any, sample_wav: Any, fake_slack: FakeSlack
) -> None:
    base = services.base_url
    cid = await _completed_call(services, tokens, sample_wav, f"Rerun {uuid.uuid4().hex[:6]}")
    fake_slack.wait_for_messages(1, needle=f"callstream:{cid}:score", timeout=30)
    refused = fake_slack.response_url()
    press(base, REP_USER, "rerun_analysis", cid, refused)
    fake_slack.wait_until(lambda _: bool(fake_slack.responses(refused)), timeout=5)
    assert "Only managers and admins" in fake_slack.responses(refused)[0]["text"]

    url = fake_slack.response_url()
    assert press(base, MANAGER, "rerun_analysis", cid, url).status_code == 200
    fake_slack.wait_until(lambda _: bool(fake_slack.responses(url)), timeout=5)
    assert "Analysing this call again" in fake_slack.responses(url)[0]["text"]
    fake_slack.wait_for_messages(2, needle=f"callstream:{cid}:score", timeout=300)


async def test_pick_list_button_shows_the_scorecard(
    services: Any, analysed: str, fake_slack: FakeSlack, sessions: Any
) -> None:
    base = services.base_url
    # "deal" is in the opportunity of this module's calls (the Zephyr and the Rerun one)
    listed = command(base, ADMIN, "deal").json()
    assert "calls match; pick one" in listed["text"]
    [actions] = [b for b in listed["blocks"] if b["type"] == "actions"]
    buttons = {e["value"]: e["action_id"] for e in actions["elements"]}
    assert analysed in buttons
    action_id = buttons[analysed]
    url = fake_slack.response_url()
    assert press(base, ADMIN, action_id, analysed, url).status_code == 200
    fake_slack.wait_until(lambda _: bool(fake_slack.responses(url)), timeout=5)
    [answer] = fake_slack.responses(url)
    assert answer["replace_original"] is True
    assert f"callstream:{analysed}:score" in json.dumps(answer["blocks"])


async def test_alert_acknowledge_button_is_recorded(
    services: Any, analysed: str, fake_slack: FakeSlack, sessions: Any
) -> None:
    from sqlalchemy import text

    async with sessions() as session, session.begin():
        rule = await session.execute(
            text(
                "INSERT INTO alert_rules (id, name, kind, params, enabled) VALUES "
                "(gen_random_uuid(), :n, 'overall_below', '{\"threshold\": 5}', false) "
                "ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id"
            ),
            {"n": "e2e slack ack"},
        )
        rule_id = rule.scalar_one()
        await session.execute(
            text(
                "INSERT INTO alerts (id, rule_id, conversation_id, message, severity) VALUES "
                "(gen_random_uuid(), :r, :c, 'low score', 'warning') ON CONFLICT DO NOTHING"
            ),
            {"r": rule_id, "c": uuid.UUID(analysed)},
        )
    url = fake_slack.response_url()
    message = {
        "text": "1 MEDDIC alert",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "low score"}},
            {"type": "actions", "elements": []},
        ],
    }
    assert (
        press(services.base_url, MANAGER, "acknowledge_alert", analysed, url, message).status_code
        == 200
    )
    fake_slack.wait_until(lambda _: bool(fake_slack.responses(url)), timeout=5)
    answer = fake_slack.responses(url)[0]
    assert answer["replace_original"] is True and f"<@{MANAGER}>" in json.dumps(answer["blocks"])
    async with sessions() as session:
        by = (
            (
                await session.execute(
                    text("SELECT acknowledged_by FROM alerts WHERE conversation_id = :c"),
                    {"c": uuid.UUID(analysed)},
                )
            )
            .scalars()
            .all()
        )
    assert MANAGER in by


# --------------------------------------------------------------------------- bad input


async def test_url_verification(services: Any) -> None:
    body = {"type": "url_verification", "challenge": "abc123", "token": "legacy"}
    r = send_event(services.base_url, body)
    assert r.status_code == 200 and r.json() == {"challenge": "abc123"}


def _event_bytes(file_id: str) -> bytes:
    return json.dumps(file_shared(file_id, REP_USER)).encode()


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong_secret", "invalid_signature"),
        ("stale", "stale_request"),
        ("body_changed", "invalid_signature"),
        ("missing_headers", "missing_signature"),
    ],
)
async def test_unsigned_or_mis_signed_requests_get_401_and_store_nothing(
    services: Any,
    linked: None,
    fake_slack: FakeSlack,
    sample_wav: Any,
    sessions: Any,
    case: str,
    code: str,
) -> None:
    file = fake_slack.add_file(sample_wav.read_bytes(), user=REP_USER)
    body = _event_bytes(file.id)
    headers = sign(SIGNING_SECRET, body)
    if case == "wrong_secret":
        headers = sign("not-the-secret", body)
    elif case == "stale":
        headers = sign(SIGNING_SECRET, body, timestamp=int(time.time()) - 6 * 60)
    elif case == "body_changed":
        body = body.replace(b"file_shared", b"file_sharex")
    elif case == "missing_headers":
        headers = {}
    for path in ("/slack/events", "/slack/commands", "/slack/interactions"):
        r = httpx.post(
            f"{services.base_url}{path}",
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"]["code"] == code
    time.sleep(0.5)
    assert await claim_of(sessions, file.id) is None
    assert fake_slack.downloads(file.id) == []


async def test_replayed_command_is_refused(services: Any, linked: None) -> None:
    form = urlencode({"command": "/analyze", "text": "help", "user_id": REP_USER}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, form)}
    first = httpx.post(f"{services.base_url}/slack/commands", content=form, headers=headers)
    again = httpx.post(f"{services.base_url}/slack/commands", content=form, headers=headers)
    assert first.status_code == 200
    assert again.status_code == 401 and again.json()["error"]["code"] == "replayed_request"


async def _rejected(sessions: Any, file_id: str) -> SlackEvent:
    deadline = time.monotonic() + 20
    while (claim := await claim_of(sessions, file_id)) is None or claim.status == "received":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return claim


async def test_file_that_is_not_audio_gets_a_thread_reply_and_stores_nothing(
    services: Any, linked: None, fake_slack: FakeSlack, sessions: Any
) -> None:
    pdf = fake_slack.add_file(
        b"%PDF-1.7 quarterly numbers", name="q3.pdf", mimetype="application/pdf", user=REP_USER
    )
    assert send_event(services.base_url, file_shared(pdf.id, REP_USER)).status_code == 200
    claim = await _rejected(sessions, pdf.id)
    assert claim.status == "rejected" and claim.detail == "not_audio"
    [reply] = wait_thread(fake_slack, CHANNEL, pdf.ts, lambda m: m, timeout=5)
    assert "*q3.pdf* is not an audio or video recording" in reply["text"]
    assert fake_slack.downloads(pdf.id) == []
    # claims to be audio but is not: found by sniffing the first bytes, nothing kept
    fake = fake_slack.add_file(
        b"<html>not a recording</html>" * 10, name="fake.mp3", mimetype="audio/mpeg", user=REP_USER
    )
    send_event(services.base_url, file_shared(fake.id, REP_USER))
    claim = await _rejected(sessions, fake.id)
    assert claim.detail == "not_audio" and claim.conversation_id is None
    replies = wait_thread(fake_slack, CHANNEL, fake.ts, lambda m: len(m) >= 2, timeout=10)
    assert "not a recognised audio container" in replies[-1]["text"]
    assert await conversations_for_file(sessions, fake.id) == 0


async def test_file_over_the_size_limit_is_refused(
    services: Any, linked: None, fake_slack: FakeSlack, sample_wav: Any, sessions: Any
) -> None:
    limit = 20 * 1024 * 1024  # CALLSTREAM_MAX_UPLOAD_BYTES of the test services
    big = fake_slack.add_file(
        sample_wav.read_bytes(), name="long.wav", user=REP_USER, declared_size=limit + 1
    )
    send_event(services.base_url, file_shared(big.id, REP_USER))
    assert (await _rejected(sessions, big.id)).detail == "too_large"
    [reply] = wait_thread(fake_slack, CHANNEL, big.ts, lambda m: m, timeout=5)
    assert "larger than the limit of 20 MB" in reply["text"]
    assert fake_slack.downloads(big.id) == []
    # Slack under-reports the size: the streamed download is cut at the limit
    liar = fake_slack.add_file(
        sample_wav.read_bytes()[:44] + b"\0" * (limit + 1024),
        name="liar.wav",
        user=REP_USER,
        declared_size=1000,
    )
    send_event(services.base_url, file_shared(liar.id, REP_USER))
    assert (await _rejected(sessions, liar.id)).detail == "too_large"
    assert await conversations_for_file(sessions, liar.id) == 0


async def test_unmapped_user_is_told_how_to_get_access(
    services: Any, linked: None, fake_slack: FakeSlack, sample_wav: Any, sessions: Any
) -> None:
    file = fake_slack.add_file(sample_wav.read_bytes(), user=STRANGER)
    send_event(services.base_url, file_shared(file.id, STRANGER))
    assert (await _rejected(sessions, file.id)).detail == "unmapped_user"
    fake_slack.wait_until(lambda _: bool(fake_slack.ephemerals(STRANGER)), timeout=5)
    assert "not linked to a callstream user" in fake_slack.ephemerals(STRANGER)[-1]["text"]
    assert fake_slack.thread_messages(CHANNEL, file.ts) == []
    assert fake_slack.downloads(file.id) == []
