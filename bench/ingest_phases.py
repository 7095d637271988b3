"""Where an upload's time goes inside ingest, from its own spans (the bench stack's Zipkin).

Each ``POST /v1/conversations`` trace is cut at the ``s3 put`` span:

- ``before the PUT``: the request span's start to the PUT's: routing, authentication,
  reading and sniffing the first bytes, the early metadata check;
- ``PUT``: the ``s3 put`` span: receiving the body and storing it (overlapped when the
  length is known, one after the other when it is not);
- ``after the PUT``: the registration and the 202: metadata, the conversation's statement
  and commit, the answer going out (``database`` is the part inside SQL spans: statements
  only, the pool's checkout is not a span of its own). Ingest opens no span per message
  it sends (``http send``), so the answer is not a phase of its own.

Span start times come from one clock (ingest's), so the phases add up to the server-side
time of the request; the client's first byte → 202 adds the network on either side.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from typing import Any

from bench.common import percentile

UPLOAD_SPAN = "post /v1/conversations"
PHASES = ("before the PUT", "PUT", "after the PUT", "database", "server total")


def _phases(trace: Sequence[dict[str, Any]]) -> dict[str, float] | None:
    """Milliseconds per phase of one upload's trace, or None if it is not a full one."""
    server = next(
        (s for s in trace if s.get("kind") == "SERVER" and s.get("name") == UPLOAD_SPAN), None
    )
    put = next((s for s in trace if s.get("name") == "s3 put"), None)
    if server is None or put is None:
        return None
    start, end = server["timestamp"], server["timestamp"] + server.get("duration", 0)
    put_start, put_end = put["timestamp"], put["timestamp"] + put.get("duration", 0)
    database = sum(
        s.get("duration", 0)
        for s in trace
        if any(tag.startswith("db.system") for tag in s.get("tags", {}))
        and put_end <= s["timestamp"] <= end
    )
    return {
        "before the PUT": (put_start - start) / 1000,
        "PUT": (put_end - put_start) / 1000,
        "after the PUT": (end - put_end) / 1000,
        "database": database / 1000,
        "server total": (end - start) / 1000,
    }


def upload_phases(zipkin_url: str, since: float, until: float, limit: int) -> dict[str, float]:
    """p50 milliseconds per phase over the uploads whose traces started between ``since``
    and ``until`` (Unix seconds); empty if Zipkin has none (or cannot be reached)."""
    query = (
        f"{zipkin_url}/api/v2/traces?serviceName=ingest&spanName={UPLOAD_SPAN.replace(' ', '%20')}"
        f"&endTs={int(until * 1000) + 1}&lookback={int((until - since) * 1000) + 1}&limit={limit}"
    )
    try:
        with urllib.request.urlopen(query, timeout=30) as response:  # noqa: S310 - local Zipkin
            traces = json.load(response)
    except OSError:
        return {}
    rows = [p for p in (_phases(t) for t in traces) if p is not None]
    if not rows:
        return {}
    return {name: percentile([r[name] for r in rows], 50) for name in PHASES} | {
        "traces": float(len(rows))
    }
