"""Following a call through the running pipeline from the API, as a client would."""

from __future__ import annotations

import time
from typing import Any

import httpx


def wait_terminal(base: str, token: str, cid: str, timeout: float = 300) -> dict[str, Any]:
    """The conversation once it is completed or failed (or as it is when ``timeout`` runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = httpx.get(
            f"{base}/v1/conversations/{cid}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.5)
