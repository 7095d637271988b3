"""Graceful shutdown: a service told to stop (SIGTERM) finishes or hands back its
in-flight call, commits, and exits within its timeout; the call is neither lost nor doubled."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.test_pipeline import wait_terminal

pytestmark = [pytest.mark.stack, pytest.mark.e2e]


async def test_sigterm_mid_transcription_loses_and_doubles_nothing(
    services: Any, tokens: dict[str, str], sample_wav: Any, sessions: Any
) -> None:
    base, token = services.base_url, tokens["admin"]
    r = httpx.post(
        f"{base}/v1/conversations",
        params={"opportunity_name": "Shutdown Ltd", "rep_id": "rep-a"},
        content=sample_wav.read_bytes(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 202
    cid = r.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = httpx.get(
            f"{base}/v1/conversations/{cid}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        if body["status"] == "processing":
            break
        time.sleep(0.1)
    transcriber = services.process("transcriber")
    started = time.monotonic()
    assert transcriber.stop()
    stopped_in = time.monotonic() - started
    assert stopped_in < transcriber.stop_timeout, "the transcriber had to be killed"
    transcriber.start()
    conv = wait_terminal(base, token, cid)
    assert conv["status"] == "completed", conv.get("failure_reason")
    from sqlalchemy import text

    async with sessions() as s:
        count = (
            await s.execute(
                text("SELECT count(*) FROM transcripts WHERE conversation_id = :c"), {"c": cid}
            )
        ).scalar_one()
    assert count == 1
    print(f"\ntranscriber stopped gracefully in {stopped_in:.1f}s")
