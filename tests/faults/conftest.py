"""The fault module runs its own set of services (benchmark mode: ``instant`` transcriber,
retries long enough to ride out a 30 s outage) and gives the session's services back after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

#: What the fault services run with, on top of the session services' environment.
FAULT_ENV: dict[str, str] = {
    "CALLSTREAM_TRANSCRIBER_PROVIDER": "instant",
    # 2, 4, 8, 8, ... s between attempts, 10 attempts: about a minute of retrying, so a
    # stage rides out the restarts and the 30 s object-store outage instead of giving up.
    "CALLSTREAM_RETRY_BASE_SECONDS": "2",
    "CALLSTREAM_RETRY_CAP_SECONDS": "8",
    "CALLSTREAM_RETRY_MAX_ATTEMPTS": "10",
    "CALLSTREAM_LOG_LEVEL": "INFO",
}


@pytest.fixture(scope="module")
def fault_services(services: Any, stack: Any, fake_slack: Any) -> Iterator[Any]:
    """The five services as real processes in fault-test mode, on the session's ports.

    The session's services (built-in Whisper) are stopped first and started again at the
    end, so the tests after this module find them as they were.
    """
    from callstream_cli.services import ServiceSet
    from callstream_cli.stack import manager
    from callstream_common.topics import all_topics

    _, settings = stack
    services.down()
    fake_slack.reset()
    extra = dict(services.extra_env) | FAULT_ENV
    svc = ServiceSet(
        settings=settings,
        ingest_port=services.ingest_port,
        extra_env=tuple(extra.items()),
        endpoints=services.endpoints,
    )
    try:
        svc.up(timeout=240)
        yield svc
    finally:
        svc.down()
        fake_slack.reset()
        # A test that failed half-way through an outage must not leave the stack broken.
        manager.up(settings, all_topics())
        services.up(timeout=240)
