"""Session fixtures: the real stack (started once), its migrated database, and clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.support.fake_slack_app import SIGNING_SECRET
from tests.support.stack import ingest_test_port, running_stack

WEBHOOK_SECRET = "whsec-test-secret"
METRICS_TOKEN = "scrape-test-token"


@pytest.fixture(scope="session")
def stack() -> Iterator[Any]:
    """The running test stack: (endpoints, settings). Migrations applied once."""
    from callstream_common.db.migrate import upgrade

    with running_stack() as (endpoints, settings):
        upgrade(endpoints.database_url.get_secret_value())
        yield endpoints, settings


@pytest.fixture(scope="session")
def endpoints(stack: Any) -> Any:
    return stack[0]


@pytest.fixture(scope="session")
def common_settings(endpoints: Any) -> Any:
    from callstream_common.settings import CommonSettings

    env = endpoints.service_env()
    return CommonSettings(
        kafka_bootstrap_servers=env["CALLSTREAM_KAFKA_BOOTSTRAP_SERVERS"],
        database_url=env["CALLSTREAM_DATABASE_URL"],
        s3_endpoint=env["CALLSTREAM_S3_ENDPOINT"],
        s3_access_key=env["CALLSTREAM_S3_ACCESS_KEY"],
        s3_secret_key=env["CALLSTREAM_S3_SECRET_KEY"],
        s3_bucket=env["CALLSTREAM_S3_BUCKET"],
        redis_url=env["CALLSTREAM_REDIS_URL"],
    )


@pytest.fixture(scope="session")
async def sessions(common_settings: Any) -> AsyncIterator[Any]:
    from callstream_common.db.engine import make_engine, make_sessionmaker

    engine = make_engine(common_settings)
    yield make_sessionmaker(engine)
    await engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The schemathesis run goes last: as an admin it creates, changes and switches off
    whatever the API lets it, which no other test should have to expect.
    `CALLSTREAM_TEST_UNIT_ONLY=1` skips everything that needs the stack."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/integration/test_api_fuzz.py"))
    if os.environ.get("CALLSTREAM_TEST_UNIT_ONLY") != "1":
        return
    skip = pytest.mark.skip(reason="CALLSTREAM_TEST_UNIT_ONLY=1")
    for item in items:
        if "stack" in item.keywords or "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[Any]:
    from tests.support.fake_slack import FakeSlack

    with FakeSlack(receiver_secret=WEBHOOK_SECRET) as fake:
        yield fake


@pytest.fixture(scope="session")
def services(stack: Any, fake_slack: Any) -> Iterator[Any]:
    """All five services as real processes against the test stack, Slack faked locally."""
    from callstream_cli.services import ServiceSet

    endpoints, settings = stack
    extra = {
        "CALLSTREAM_SLACK_BOT_TOKEN": fake_slack.bot_token,
        "CALLSTREAM_SLACK_CHANNEL": "#sales-calls",
        "CALLSTREAM_SLACK_API_BASE_URL": fake_slack.api_url,
        "CALLSTREAM_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "CALLSTREAM_WEBHOOK_URL": fake_slack.receiver_url("crm"),
        "CALLSTREAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CALLSTREAM_RETRY_BASE_SECONDS": "1.0",
        "CALLSTREAM_TRACKER_REFRESH_SECONDS": "1.0",
        "CALLSTREAM_ALERT_RULES_REFRESH_SECONDS": "0",
        # Refresh-ahead would make a request after a change a hit or a miss by a race;
        # the API's cache tests expect the miss (tests/integration/test_refresh_ahead.py
        # covers refresh-ahead itself).
        "CALLSTREAM_READ_CACHE_REFRESH_WINDOW_SECONDS": "0",
        "CALLSTREAM_MAX_UPLOAD_BYTES": str(20 * 1024 * 1024),
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "CALLSTREAM_METRICS_TOKEN": METRICS_TOKEN,
    }
    svc = ServiceSet(
        settings=settings,
        ingest_port=ingest_test_port(),
        extra_env=tuple(extra.items()),
        endpoints=endpoints,
    )
    svc.down()
    svc.up(timeout=240)
    yield svc
    svc.down()


@pytest.fixture(scope="session")
async def tokens(services: Any, sessions: Any) -> dict[str, str]:
    """Credentials of each role: admin, a manager of team-east, users of two reps."""
    from callstream_common.credentials import create_credential
    from callstream_common.db.models import Rep, Role, Team

    async with sessions() as session, session.begin():
        for team_id in ("team-east", "team-west"):
            if await session.get(Team, team_id) is None:
                session.add(Team(id=team_id, name=team_id))
        await session.flush()
        for rep_id, team in (
            ("rep-a", "team-east"),
            ("rep-b", "team-east"),
            ("rep-c", "team-west"),
        ):
            if await session.get(Rep, rep_id) is None:
                session.add(Rep(id=rep_id, name=rep_id, team_id=team))
        return {
            "admin": await create_credential(session, "t-admin", Role.ADMIN),
            "manager": await create_credential(
                session, "t-manager", Role.MANAGER, rep_id=None, team_id="team-east"
            ),
            "user_a": await create_credential(session, "t-user-a", Role.USER, rep_id="rep-a"),
            "user_c": await create_credential(session, "t-user-c", Role.USER, rep_id="rep-c"),
        }


@pytest.fixture(scope="session")
def sample_wav(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from callstream_cli.sample import SAMPLE_CALL, synthesize

    return synthesize(SAMPLE_CALL, tmp_path_factory.mktemp("audio") / "sample.wav")
