"""The stack the test suite runs against: its own ports and folder, so it never touches a
developer's running stack. Local processes by default; testcontainers where a Docker
engine answers (``CALLSTREAM_TEST_STACK=local|docker|auto``, default auto)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr

from callstream_cli.stack.endpoints import StackEndpoints
from callstream_cli.stack.settings import StackSettings, project_root

ROOT = project_root()


def port_offset() -> int:
    """``CALLSTREAM_TEST_PORT_OFFSET`` shifts every port of the test stack (and its folder),
    so that two test runs can share a machine (e.g. ``-3000``)."""
    return int(os.environ.get("CALLSTREAM_TEST_PORT_OFFSET", "0"))


def test_stack_settings() -> StackSettings:
    off = port_offset()
    ports = {
        "kafka_port": 29092,
        "kafka_controller_port": 29093,
        "postgres_port": 25432,
        "s3_port": 28333,
        "weed_s3_grpc_port": 28334,
        "weed_master_port": 28330,
        "weed_master_grpc_port": 28331,
        "weed_volume_port": 28340,
        "weed_volume_grpc_port": 28341,
        "weed_filer_port": 28388,
        "weed_filer_grpc_port": 28389,
        "weed_admin_port": 28446,  # SeaweedFS adds 10000 for its admin gRPC port
        "redis_port": 26379,
        "zipkin_port": 29411,
    }
    folder = "test-stack" if off == 0 else f"test-stack{off:+d}"
    return StackSettings(
        stack_dir=ROOT / ".local" / folder,
        s3_secret_key=SecretStr("callstream-test-secret"),
        **{k: v + off for k, v in ports.items()},
    )


INGEST_TEST_PORT = 28000


def ingest_test_port() -> int:
    return INGEST_TEST_PORT + port_offset()


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def stack_mode() -> str:
    mode = os.environ.get("CALLSTREAM_TEST_STACK", "auto")
    if mode == "auto":
        return "docker" if docker_engine_answers() else "local"
    return mode


@contextmanager
def running_stack() -> Iterator[tuple[StackEndpoints, StackSettings]]:
    from callstream_common.topics import all_topics

    settings = test_stack_settings()
    if stack_mode() == "docker":
        with _containers(settings) as endpoints:
            yield endpoints, settings
        return
    from callstream_cli.stack import manager

    endpoints = manager.up(settings, all_topics())
    try:
        yield endpoints, settings
    finally:
        if os.environ.get("CALLSTREAM_TEST_KEEP_STACK") != "1":
            manager.clean(settings)


@contextmanager
def _containers(settings: StackSettings) -> Iterator[StackEndpoints]:
    """The same components as containers (needs a Docker engine; not used on this machine)."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.kafka import KafkaContainer
    from testcontainers.minio import MinioContainer
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    from callstream_common.topics import all_topics

    with (
        KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka,
        PostgresContainer(
            "postgres:16",
            username="callstream",
            password="callstream",
            dbname="callstream",
            driver="asyncpg",
        ) as pg,
        MinioContainer(access_key="callstream", secret_key="callstream-test-secret") as minio,
        RedisContainer("redis:7") as redis,
        DockerContainer("openzipkin/zipkin:3").with_exposed_ports(9411) as zipkin,
    ):
        client = minio.get_client()
        if not client.bucket_exists(settings.s3_bucket):
            client.make_bucket(settings.s3_bucket)
        endpoints = StackEndpoints(
            kafka_bootstrap=kafka.get_bootstrap_server(),
            database_url=SecretStr(pg.get_connection_url()),
            s3_endpoint=f"{minio.get_container_host_ip()}:{minio.get_exposed_port(9000)}",
            s3_access_key=SecretStr("callstream"),
            s3_secret_key=SecretStr("callstream-test-secret"),
            s3_bucket=settings.s3_bucket,
            redis_url=f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0",
            zipkin_url=f"http://{zipkin.get_container_host_ip()}:{zipkin.get_exposed_port(9411)}",
        )
        import asyncio

        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        async def create_topics() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(t.name, t.partitions, 1) for t in all_topics()])
            finally:
                await admin.close()

        asyncio.run(create_topics())
        yield endpoints


def service_env(endpoints: StackEndpoints) -> dict[str, str]:
    return endpoints.service_env() | {
        "CALLSTREAM_TRACING_UI_URL": endpoints.zipkin_url + "/zipkin",
        "CALLSTREAM_LOG_JSON": "true",
    }


def stack_dir(settings: StackSettings) -> Path:
    return Path(settings.stack_dir)
