"""Configuration shared by every service, read from the environment and `.env`.

One prefix (``CALLSTREAM_``) for the whole system so that one `.env` file configures a
laptop; each service subclasses :class:`CommonSettings` with its own fields. Secrets are
``SecretStr`` so that printing a settings object, or logging it, shows ``**********``.
"""

from __future__ import annotations

import os
from enum import StrEnum

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from callstream_common.retry import RetryPolicy

VERSION = "0.1.0"


class Profile(StrEnum):
    DEV = "dev"
    PREVIEW = "preview"
    PROD = "prod"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALLSTREAM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    profile: Profile = Profile.DEV
    service_name: str = "callstream"
    consumer_group: str | None = None
    """Kafka consumer group of the service's stages; defaults to the service name."""
    log_level: str = "INFO"
    log_json: bool = True

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_idempotent_producer: bool = True
    """Apache Kafka supports idempotent producers; turn off only for brokers that do not."""

    stage_concurrency: int = Field(default=8, ge=1, le=256)
    """Records each lane of this process's stage handles at once. I/O-bound stages (remote
    transcription/LLM, Slack, webhooks) overlap their waiting; a stage whose work is
    CPU-bound (local Whisper) sets its own default to what the cores allow."""
    kafka_max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    """Kafka's liveness limit on the poll loop. Handlers run beside the loop, so a long
    call never approaches it; it only bounds how long a wedged process keeps partitions."""
    stage_revoke_grace_seconds: float = Field(default=10.0, ge=0)
    """On a rebalance, how long records of revoked partitions may finish before their next
    owner takes them over."""

    database_url: SecretStr = SecretStr(
        "postgresql+asyncpg://callstream:callstream@127.0.0.1:15432/callstream"
    )
    database_pool_size: int = 5
    trace_database_statements: bool = False
    """One tracing span per SQL statement (SQLAlchemy's instrumentation). Off by default:
    on the cheap path it was a span, its attributes and its export for each of a record's
    statements; a stage's own span still covers its database time. Turn it on to find a
    slow query."""

    s3_endpoint: str = "127.0.0.1:18333"
    s3_access_key: SecretStr = SecretStr("callstream")
    s3_secret_key: SecretStr = SecretStr("callstream-secret")
    s3_bucket: str = "callstream"
    s3_secure: bool = False
    s3_region: str | None = None

    redis_url: SecretStr = SecretStr("redis://127.0.0.1:16379/0")

    public_base_url: str = "http://127.0.0.1:8000"
    """Where people reach the ingest API; used to build links in notifications."""

    tracing_ui_url: str = Field(default="http://127.0.0.1:19411/zipkin")

    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    """Where a FastStream service serves ``/metrics`` (each service has its own default;
    ingest serves it on its API port instead). ``0`` or unset turns the endpoint off."""
    metrics_token: SecretStr | None = None
    """Scrape credential: when set, ``/metrics`` answers only ``Authorization: Bearer
    <token>``. Unset, a service's metrics port is open, for operators' networks only."""
    metrics_lag_interval_seconds: float = Field(default=10.0, gt=0)
    """How often a service reads its consumer groups' lag from Kafka."""

    retry_max_attempts: int = Field(default=3, ge=1, le=20)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_cap_seconds: float = Field(default=300.0, gt=0)
    """Per-stage retry policy: each service process reads its own values."""

    def bound_by_cores(self, threads_per_record: int = 1) -> None:
        """For a stage whose records are CPU-bound (local models): unless configured, run
        only as many at once as the cores can take, so they do not slow each other down."""
        if "stage_concurrency" not in self.model_fields_set:
            self.stage_concurrency = max(1, (os.cpu_count() or 1) // max(1, threads_per_record))

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_max_attempts, self.retry_base_seconds, self.retry_cap_seconds)
