"""The fake Slack itself: other suites rely on its fault scripting and recordings."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.support.fake_slack import FakeSlack, block_kit_problems

MESSAGE = {"channel": "#deals", "text": "hello", "blocks": [{"type": "divider"}]}


def post(server: FakeSlack, path: str = "/api/chat.postMessage", **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.bot_token}"}
    return httpx.post(server.base_url + path, headers=headers, timeout=5, **kwargs)


def test_post_message_and_auth(fake_slack: FakeSlack) -> None:
    ok = post(fake_slack, json=MESSAGE).json()
    assert ok["ok"] is True and ok["channel"] == "#deals" and ok["ts"]
    bad = httpx.post(fake_slack.api_url + "/chat.postMessage", json=MESSAGE, timeout=5).json()
    assert bad == {"ok": False, "error": "not_authed"}
    assert post(fake_slack, "/api/auth.test").json()["ok"] is True
    form = {"channel": "#deals", "blocks": json.dumps([{"type": "divider"}])}
    assert post(fake_slack, data=form).json()["ok"] is True
    assert len(fake_slack.messages) == 2


def test_known_channels_only() -> None:
    with FakeSlack(channels={"C123"}) as server:
        assert post(server, json=MESSAGE).json()["error"] == "channel_not_found"
        assert post(server, json={**MESSAGE, "channel": "C123"}).json()["ok"] is True


def test_invalid_blocks_are_explained(fake_slack: FakeSlack) -> None:
    answer = post(fake_slack, json={**MESSAGE, "blocks": [{"type": "section"}]}).json()
    assert answer["error"] == "invalid_blocks" and answer["errors"]
    long_header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    assert block_kit_problems([long_header])
    assert block_kit_problems([{"type": "divider"}] * 51)
    assert block_kit_problems("nope")


def test_fail_next_is_counted_and_path_scoped(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(2, status=429, retry_after=3, path="/api/")
    first = post(fake_slack, json=MESSAGE)
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert first.json() == {"ok": False, "error": "ratelimited"}
    assert httpx.post(fake_slack.webhook_url, json=MESSAGE).text == "ok"  # other path: no fault
    assert post(fake_slack, json=MESSAGE).status_code == 429
    assert post(fake_slack, json=MESSAGE).json()["ok"] is True
    assert [r.faulted for r in fake_slack.requests] == [True, False, True, False]


def test_fail_for_expires(fake_slack: FakeSlack) -> None:
    # a client made before the window opens: creating one (its TLS context) can take
    # longer than the window itself on a busy machine
    with httpx.Client() as client:
        fake_slack.fail_for(0.3, status=503)
        assert client.post(fake_slack.receiver_url(), json={}).status_code == 503
        time.sleep(0.35)
        assert client.post(fake_slack.receiver_url(), json={}).status_code == 200
    assert len(fake_slack.deliveries("default")) == 1


def test_webhook_errors_and_reset(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(1, status=500)
    assert httpx.post(fake_slack.webhook_url, json=MESSAGE).text == "rollup_error"
    assert httpx.post(fake_slack.webhook_url, content=b"{").text == "invalid_payload"
    wrong = fake_slack.base_url + "/services/T/B/nope"
    assert httpx.post(wrong, json=MESSAGE).status_code == 404
    fake_slack.reset()
    assert fake_slack.requests == []


def test_stop_drops_pooled_connections_and_restart_keeps_the_port() -> None:
    server = FakeSlack().start()
    url = server.receiver_url()
    with httpx.Client(timeout=2) as client:
        assert client.post(url, json={}).status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.post(url, json={})
        with server.start():
            assert client.post(url, json={}).status_code == 200


def test_wait_for_messages_times_out_with_context(fake_slack: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match="saw"):
        fake_slack.wait_for_messages(1, timeout=0.1)
