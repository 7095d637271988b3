"""The Slack app's pure parts: which events carry a file, where its thread is, what the
ephemeral answers look like (within Block Kit's limits) and what a link request needs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from callstream_common.db.models import Conversation, Role
from callstream_ingest.slack.admin import LinkRequest
from callstream_ingest.slack.events import _thread_of, file_share
from callstream_ingest.slack.messages import HELP_TEXT, ephemeral, pick_list
from tests.support.block_kit import block_kit_problems


def callback(event: dict[str, object], event_id: str = "Ev1") -> dict[str, object]:
    return {"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event}


def test_file_shared_event_names_its_file_and_channel() -> None:
    share = file_share(
        callback({"type": "file_shared", "file_id": "F1", "user_id": "U1", "channel_id": "C1"})
    )
    assert share == {
        "event_id": "Ev1",
        "team_id": "T1",
        "file_id": "F1",
        "channel": "C1",
        "thread_ts": None,
        "slack_user": "U1",
    }


def test_message_with_files_uses_its_own_ts_or_thread() -> None:
    event = {"type": "message", "channel": "C1", "user": "U1", "ts": "10.1"}
    event["files"] = [{"id": "F9"}]  # type: ignore[assignment]
    assert file_share(callback(event))["thread_ts"] == "10.1"  # type: ignore[index]
    threaded = {**event, "thread_ts": "9.0"}
    assert file_share(callback(threaded))["thread_ts"] == "9.0"  # type: ignore[index]


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "channel": "C1", "user": "U1", "ts": "1.0", "text": "hi"},
        {"type": "message", "bot_id": "B1", "channel": "C1", "ts": "1.0", "files": [{"id": "F"}]},
        {"type": "app_mention", "channel": "C1", "user": "U1"},
    ],
)
def test_events_without_a_user_file_are_ignored(event: dict[str, object]) -> None:
    assert file_share(callback(event)) is None


def test_event_without_an_id_is_ignored() -> None:
    assert file_share(callback({"type": "file_shared", "file_id": "F1"}, event_id="")) is None


def test_thread_of_a_file_share() -> None:
    file = {"shares": {"private": {"G1": [{"ts": "5.5"}]}, "public": {"C1": [{"ts": "7.7"}]}}}
    assert _thread_of(file, "C1") == ("C1", "7.7")
    assert _thread_of(file, "G1") == ("G1", "5.5")
    in_thread = {"shares": {"public": {"C1": [{"ts": "7.7", "thread_ts": "1.1"}]}}}
    assert _thread_of(in_thread, None) == ("C1", "1.1")
    assert _thread_of({}, "C1") == ("C1", None)


def conversation(title: str) -> Conversation:
    return Conversation(
        id=uuid.uuid4(),
        status="completed",
        opportunity_name=f"{title} deal",
        rep_id="rep-a",
        title=title,
        object_key="k",
        content_type="audio/wav",
        size_bytes=1,
        sha256="0" * 64,
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_pick_list_is_valid_block_kit_with_one_button_per_call() -> None:
    calls = [conversation("x" * 400 + str(i)) for i in range(5)]
    body = pick_list(calls, more=True)
    assert body["response_type"] == "ephemeral"
    assert block_kit_problems(body["blocks"]) == []
    [actions] = [b for b in body["blocks"] if b["type"] == "actions"]
    assert [e["value"] for e in actions["elements"]] == [str(c.id) for c in calls]
    assert len({e["action_id"] for e in actions["elements"]}) == 5
    assert "More calls match" in body["text"]


def test_help_is_ephemeral() -> None:
    body = ephemeral(HELP_TEXT)
    assert body["response_type"] == "ephemeral" and block_kit_problems(body["blocks"]) == []


def test_link_request_needs_one_key_and_a_scope() -> None:
    assert LinkRequest(slack_user_id="U0123", rep_id="rep-a").role == Role.USER
    assert LinkRequest(email="a@b.example", role=Role.ADMIN).email == "a@b.example"
    for bad in (
        {"rep_id": "rep-a"},
        {"slack_user_id": "U0123", "email": "a@b.example", "rep_id": "r"},
        {"slack_user_id": "U0123"},
        {"slack_user_id": "U0123", "role": "manager"},
        {"slack_user_id": "not-an-id", "rep_id": "r"},
    ):
        with pytest.raises(ValidationError):
            LinkRequest.model_validate(bad)
