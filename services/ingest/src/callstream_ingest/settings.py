from __future__ import annotations

from pydantic import SecretStr

from callstream_common.settings import CommonSettings


class IngestSettings(CommonSettings):
    service_name: str = "ingest"
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 500 * 1024 * 1024
    kafka_publish_timeout_seconds: float = 5.0
    outbox_relay_after_seconds: float = 15.0
    """Outbox events older than this are published by the relay (a crash or an outage
    came between the commit and the publish)."""
    outbox_relay_interval_seconds: float = 5.0
    slack_signing_secret: SecretStr | None = None
    """The Slack app's signing secret; unset: ``/slack/*`` answers 503 ``slack_not_configured``."""
    slack_bot_token: SecretStr | None = None
    slack_api_base_url: str = "https://slack.com/api"
    console_base_url: str | None = None
    """Where scorecard buttons point; defaults to ``public_base_url``."""
