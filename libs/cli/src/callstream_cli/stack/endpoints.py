"""Addresses of a running stack, and the environment services need to use it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import quote

from pydantic import SecretStr

from callstream_cli.stack.settings import StackSettings


@dataclass(frozen=True)
class StackEndpoints:
    """Where each component of a stack answers.

    Built from settings alone (no I/O), so ``env`` works whether or not the stack is running.
    """

    kafka_bootstrap: str
    database_url: SecretStr
    s3_endpoint: str
    s3_access_key: SecretStr
    s3_secret_key: SecretStr
    s3_bucket: str
    redis_url: str
    zipkin_url: str

    @classmethod
    def from_settings(cls, settings: StackSettings) -> StackEndpoints:
        host = settings.host
        user = quote(settings.postgres_user, safe="")
        password = quote(settings.postgres_password.get_secret_value(), safe="")
        database_url = (
            f"postgresql+asyncpg://{user}:{password}@{host}:{settings.postgres_port}"
            f"/{quote(settings.postgres_db, safe='')}"
        )
        return cls(
            kafka_bootstrap=f"{host}:{settings.kafka_port}",
            database_url=SecretStr(database_url),
            s3_endpoint=f"{host}:{settings.s3_port}",
            s3_access_key=settings.s3_access_key,
            s3_secret_key=settings.s3_secret_key,
            s3_bucket=settings.s3_bucket,
            redis_url=f"redis://{host}:{settings.redis_port}/0",
            zipkin_url=f"http://{host}:{settings.zipkin_port}",
        )

    @property
    def zipkin_spans_url(self) -> str:
        """Where OpenTelemetry's Zipkin exporter posts spans."""
        return f"{self.zipkin_url}/api/v2/spans"

    @property
    def zipkin_ui_url(self) -> str:
        return f"{self.zipkin_url}/zipkin/"

    def service_env(self) -> dict[str, str]:
        """The environment variables every service reads to reach this stack (with secrets)."""
        return {
            "CALLSTREAM_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "CALLSTREAM_DATABASE_URL": self.database_url.get_secret_value(),
            "CALLSTREAM_S3_ENDPOINT": self.s3_endpoint,
            "CALLSTREAM_S3_ACCESS_KEY": self.s3_access_key.get_secret_value(),
            "CALLSTREAM_S3_SECRET_KEY": self.s3_secret_key.get_secret_value(),
            "CALLSTREAM_S3_BUCKET": self.s3_bucket,
            "CALLSTREAM_S3_SECURE": "false",
            "CALLSTREAM_REDIS_URL": self.redis_url,
            "OTEL_TRACES_EXPORTER": "zipkin",
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT": self.zipkin_spans_url,
            "CALLSTREAM_ZIPKIN_UI_URL": self.zipkin_ui_url,
        }


def export_lines(env: dict[str, str]) -> str:
    """``export K=V`` lines, shell-quoted, for ``eval "$(callstream stack env)"``."""
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items())
