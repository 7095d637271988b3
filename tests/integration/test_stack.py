"""The local stack for real: a private stack on unusual ports, in a temporary folder.

It is separate from the suite's shared test stack (tests/support/stack.py) because it ends by
taking itself down and checking that no process is left behind.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from minio import Minio
from minio.error import S3Error
from pydantic import SecretStr
from redis.asyncio import Redis
from typer.testing import CliRunner

from callstream_cli.main import app
from callstream_cli.stack import (
    StackEndpoints,
    StackError,
    StackSettings,
    TopicSpec,
    clean_async,
    down_async,
    start_components,
    status_async,
    up_async,
)
from callstream_cli.stack.component import port_is_open

pytestmark = pytest.mark.stack

TOPICS = [("stack-test.events", 3), TopicSpec("stack-test.dlq", 1, (("retention.ms", "60000"),))]


def _settings(stack_dir: Path) -> StackSettings:
    """Ports in the 21xxx block: clear of the dev stack and of the suite's shared stack."""
    return StackSettings(
        stack_dir=stack_dir,
        kafka_port=21092,
        kafka_controller_port=21093,
        postgres_port=21432,
        postgres_password=SecretStr("pw-" + secrets.token_hex(4)),
        s3_port=21333,
        weed_s3_grpc_port=21334,
        weed_master_port=21330,
        weed_master_grpc_port=21331,
        weed_volume_port=21340,
        weed_volume_grpc_port=21341,
        weed_filer_port=21388,
        weed_filer_grpc_port=21389,
        weed_admin_port=21346,
        s3_secret_key=SecretStr("stack-test-" + secrets.token_hex(4)),
        redis_port=21379,
        zipkin_port=21411,
    )


def _temp_stack_dir() -> Path:
    """A folder as private as root's home or mktemp's: mode 0700, not traversable by others.

    PostgreSQL runs as the ``postgres`` user, so this proves the stack keeps its data where
    that user can reach it without changing the permissions of the user's folders.
    """
    path = Path(tempfile.mkdtemp(prefix="callstream-stack-test-")) / "checkout" / ".local"
    path.mkdir(parents=True)
    path.parent.parent.chmod(0o700)
    return path / "stack"


@pytest.fixture(scope="module")
async def local_stack() -> AsyncIterator[tuple[StackSettings, StackEndpoints]]:
    """One stack for this module, started once (cold start includes JVM boots)."""
    stack_dir = _temp_stack_dir()
    settings = _settings(stack_dir)
    try:
        endpoints = await up_async(settings, TOPICS)
        yield settings, endpoints
    finally:
        await clean_async(settings)
        shutil.rmtree(stack_dir.parent.parent.parent, ignore_errors=True)


async def test_kafka_has_the_topics_and_carries_a_message(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    _, endpoints = local_stack
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(["stack-test.events"])}
        (configs,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "stack-test.dlq", {"retention.ms": None})]
        )
    finally:
        await admin.close()
    assert len(described["stack-test.events"]["partitions"]) == 3
    (resource,) = configs.resources
    assert [(e[0], e[1]) for e in resource[4]] == [("retention.ms", "60000")]

    payload = uuid.uuid4().bytes
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("stack-test.events", payload, key=b"k", partition=1)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        "stack-test.events",
        bootstrap_servers=endpoints.kafka_bootstrap,
        group_id=f"stack-test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert record.value == payload


async def test_postgres_accepts_the_application_login(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    settings, endpoints = local_stack
    dsn = endpoints.database_url.get_secret_value().replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(dsn)
    try:
        user, db = await conn.fetchrow("SELECT current_user, current_database()")
        await conn.execute("CREATE TABLE IF NOT EXISTS stack_probe (id int)")  # owns its db
        answer = await conn.fetchval("SELECT 40 + 2")
    finally:
        await conn.close()
    assert (user, db, answer) == (settings.postgres_user, settings.postgres_db, 42)

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(dsn.replace(settings.postgres_password.get_secret_value(), "wrong"))


async def test_postgres_of_a_checkout_in_a_private_folder_lives_in_the_system_folder(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    """The checkout's folder stays 0700; the server's data sits in a folder keyed by it."""
    settings, _ = local_stack
    private = settings.stack_dir.parent.parent.parent
    assert private.stat().st_mode & 0o777 == 0o700
    system = settings.system_state_dir()
    assert system.parent == settings.postgres_state_root
    assert (system / "postgres" / "data" / "PG_VERSION").is_file()
    assert (system / "OWNER").read_text().strip() == str(settings.stack_dir.resolve())
    other = settings.model_copy(update={"stack_dir": settings.stack_dir.parent / "other"})
    assert other.system_state_dir() != system


async def test_a_failed_start_stops_what_it_started() -> None:
    """Redis cannot start (no such binary): the PostgreSQL this call started is stopped again."""
    stack_dir = _temp_stack_dir()
    settings = _settings(stack_dir).model_copy(
        update={
            "postgres_port": 21532,
            "redis_port": 21579,
            "redis_server_bin": str(stack_dir / "no-such-redis-server"),
        }
    )
    try:
        with pytest.raises(StackError, match=r"stopped again: postgres\)") as failure:
            await start_components(settings, only={"postgres", "redis"})
        assert "redis:" in str(failure.value)
        statuses = {s.name: s for s in await status_async(settings)}
        assert not statuses["postgres"].running
        assert not port_is_open(settings.host, settings.postgres_port)
    finally:
        await clean_async(settings)
        shutil.rmtree(stack_dir.parent.parent.parent, ignore_errors=True)


async def test_s3_stores_objects_and_checks_keys(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    _, endpoints = local_stack
    client = Minio(
        endpoints.s3_endpoint,
        access_key=endpoints.s3_access_key.get_secret_value(),
        secret_key=endpoints.s3_secret_key.get_secret_value(),
        secure=False,
    )
    body = os.urandom(256 * 1024)

    def roundtrip() -> bytes:
        client.put_object(endpoints.s3_bucket, "probe/object.bin", io.BytesIO(body), len(body))
        response = client.get_object(endpoints.s3_bucket, "probe/object.bin")
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    assert await asyncio.to_thread(roundtrip) == body

    intruder = Minio(endpoints.s3_endpoint, access_key="x", secret_key="y", secure=False)
    with pytest.raises(S3Error):
        await asyncio.to_thread(intruder.bucket_exists, endpoints.s3_bucket)


async def test_redis_answers(local_stack: tuple[StackSettings, StackEndpoints]) -> None:
    _, endpoints = local_stack
    client = Redis.from_url(endpoints.redis_url)
    try:
        assert await client.ping() is True
        await client.set("stack-test", "v", ex=60)
        assert await client.get("stack-test") == b"v"
    finally:
        await client.aclose()


async def test_zipkin_collects_and_returns_a_span(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    _, endpoints = local_stack
    trace_id = secrets.token_hex(16)
    span = {
        "traceId": trace_id,
        "id": secrets.token_hex(8),
        "name": "stack-probe",
        "timestamp": int(time.time() * 1_000_000),
        "duration": 1500,
        "localEndpoint": {"serviceName": "stack-test"},
    }
    env = endpoints.service_env()
    async with httpx.AsyncClient(timeout=10) as client:
        posted = await client.post(env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"], json=[span])
        assert posted.status_code == 202
        spans: list[dict[str, object]] = []
        for _ in range(50):
            got = await client.get(f"{endpoints.zipkin_url}/api/v2/trace/{trace_id}")
            if got.status_code == 200:
                spans = got.json()
                break
            await asyncio.sleep(0.1)
        ui = await client.get(env["CALLSTREAM_ZIPKIN_UI_URL"])
    assert [s["name"] for s in spans] == ["stack-probe"]
    assert ui.status_code == 200


async def test_status_reports_every_component_healthy(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    settings, _ = local_stack
    statuses = {s.name: s for s in await status_async(settings)}
    assert set(statuses) == {"kafka", "postgres", "s3", "redis", "zipkin"}
    unhealthy = {n: s.detail for n, s in statuses.items() if not s.healthy}
    assert unhealthy == {}
    versions = {n: s.version or "" for n, s in statuses.items()}
    assert versions["kafka"].startswith("Apache Kafka 4.")
    assert versions["postgres"].startswith("PostgreSQL 1")
    assert versions["s3"].startswith("SeaweedFS ")
    assert versions["redis"].startswith("Redis ")
    assert versions["zipkin"].startswith("Zipkin 3.")


def test_cli_status_exits_zero_for_a_healthy_stack(
    local_stack: tuple[StackSettings, StackEndpoints], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = local_stack
    for name, value in settings.model_dump().items():
        if value is not None:
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            monkeypatch.setenv(f"CALLSTREAM_STACK_{name.upper()}", str(plain))
    result = CliRunner().invoke(app, ["stack", "status"])
    assert result.exit_code == 0, result.output
    assert result.output.count("healthy") == 5


async def test_up_again_leaves_running_components_alone(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    settings, _ = local_stack
    before = {s.name: s.pid for s in await status_async(settings)}
    outcomes = await start_components(settings, TOPICS)
    after = {s.name: s.pid for s in await status_async(settings)}
    assert {o.action for o in outcomes} == {"already running"}
    assert before == after


async def test_a_second_stack_on_the_same_ports_is_refused(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    settings, _ = local_stack
    other_dir = _temp_stack_dir()
    try:
        clash = settings.model_copy(update={"stack_dir": other_dir})
        with pytest.raises(StackError, match="already in use") as info:
            await start_components(clash)
        for name in ("kafka", "postgres", "s3", "redis", "zipkin"):
            assert f"{name}: " in str(info.value)
        assert list(other_dir.rglob("*.pid")) == []  # nothing was started
    finally:
        shutil.rmtree(other_dir, ignore_errors=True)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text.encode() in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


async def test_down_leaves_no_process_behind(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    """Runs last in this module: afterwards the fixture's own ``down`` is a no-op."""
    settings, _ = local_stack
    pids = [s.pid for s in await status_async(settings) if s.pid is not None]
    assert len(pids) == 5

    stopped = await down_async(settings)

    assert stopped == dict.fromkeys(("kafka", "postgres", "s3", "redis", "zipkin"), True)
    assert _processes_mentioning(str(settings.stack_dir)) == []
    assert _processes_mentioning(str(settings.system_state_dir())) == []
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []  # not even zombies
    assert [p for p in settings.all_ports().values() if port_is_open(settings.host, p)] == []
    assert all(not s.running for s in await status_async(settings))
    assert await down_async(settings) == dict.fromkeys(stopped, False)


async def test_clean_removes_the_stack_and_its_postgres_folder(
    local_stack: tuple[StackSettings, StackEndpoints],
) -> None:
    """After ``down`` (previous test), ``clean`` deletes both folders; runs last."""
    settings, _ = local_stack
    system = settings.system_state_dir()
    assert (system / "postgres" / "data" / "PG_VERSION").is_file()

    removed = await clean_async(settings)

    assert system in removed and settings.stack_dir in removed
    assert not system.exists() and not settings.stack_dir.exists()
