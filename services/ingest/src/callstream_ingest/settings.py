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
    allowed_hosts: list[str] = []
    """``Host`` values accepted (``["calls.example.com", "*.example.com"]``); any other is
    refused with 400. Empty: no check (the service sits behind a proxy that does it)."""
    auth_cache_ttl_seconds: float = 10.0
    auth_cache_max_entries: int = 10_000
    auth_failure_limit: int = 20
    """Invalid bearer tokens one client address may present per window before it gets
    429 until the window has passed."""
    auth_failure_window_seconds: float = 60.0
    max_replay_payload_bytes: int = 1_000_000
    """An edited DLQ payload larger than this is refused (413): Kafka's default limit for
    one record is 1 MiB, headers included."""

    def base_url(self) -> str:
        """Where clients reach ingest (``CALLSTREAM_PUBLIC_BASE_URL``): every URL the API
        hands out (``Location``, ``status_url``) starts with it, never with the ``Host``
        header a client sent."""
        return self.public_base_url.rstrip("/")

    asyncapi_public: bool = False
    """Serve ``/asyncapi`` and ``/asyncapi.json`` without a credential."""
    console_session_seconds: int = 8 * 3600
    """A console session ends this long after sign-in, whatever the browser keeps."""
    read_cache_enabled: bool = True
    """Redis in front of the read API; off, every read goes to PostgreSQL."""
    read_cache_timeout_seconds: float = 0.5
    """Longest wait on Redis per call before answering from PostgreSQL."""
    read_cache_breaker_cooldown_seconds: float = 2.0
    read_cache_local_megabytes: int = 64
    """Answers also kept in the process's memory, in front of Redis, up to this size; 0: off."""
    read_cache_local_max_age_seconds: float = 300.0
    """Longest an answer stays in memory even if no bump removes it."""
    read_cache_refresh_window_seconds: float = 60.0
    """An answer read within this long is recomputed in the background right after a change
    invalidates it, so that its next reader finds it cached (refresh-ahead); 0: never."""
    slack_signing_secret: SecretStr | None = None
    """The Slack app's signing secret; unset: ``/slack/*`` answers 503 ``slack_not_configured``."""
    slack_bot_token: SecretStr | None = None
    slack_api_base_url: str = "https://slack.com/api"
    console_base_url: str | None = None
    """Where scorecard buttons point; defaults to ``public_base_url``."""
