"""The local stack: Kafka, PostgreSQL, an S3 API, Redis and Zipkin as local processes.

Public API (the CLI and the test suite use the same functions)::

    settings = StackSettings(stack_dir=tmp, kafka_port=29092, ...)
    endpoints = await up_async(settings, topics=[("calls.uploaded", 3)])
    env = endpoints.service_env()
    await status_async(settings)
    await down_async(settings)
    await clean_async(settings)   # stop and delete its data

Client libraries (aiokafka, asyncpg, minio, redis, httpx) are imported inside the methods
that use them, so that commands which need none of them (``env``, ``logs``, ``down``) start in
well under a second: importing redis alone pulls in OpenTelemetry.
"""

from callstream_cli.stack.component import ComponentStatus, StackError
from callstream_cli.stack.endpoints import StackEndpoints
from callstream_cli.stack.kafka import TopicSpec
from callstream_cli.stack.manager import (
    COMPONENT_NAMES,
    ComponentOutcome,
    clean,
    clean_async,
    down,
    down_async,
    start_components,
    status,
    status_async,
    up,
    up_async,
)
from callstream_cli.stack.process import ManagedProcess, ProcessError
from callstream_cli.stack.settings import StackSettings

__all__ = [
    "COMPONENT_NAMES",
    "ComponentOutcome",
    "ComponentStatus",
    "ManagedProcess",
    "ProcessError",
    "StackEndpoints",
    "StackError",
    "StackSettings",
    "TopicSpec",
    "clean",
    "clean_async",
    "down",
    "down_async",
    "start_components",
    "status",
    "status_async",
    "up",
    "up_async",
]
