from __future__ import annotations

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
    console_session_seconds: int = 8 * 3600
    """A console session ends this long after sign-in, whatever the browser keeps."""
    read_cache_enabled: bool = True
    """Redis in front of the read API; off, every read goes to PostgreSQL."""
    read_cache_timeout_seconds: float = 0.5
    """Longest wait on Redis per call before answering from PostgreSQL."""
    read_cache_breaker_cooldown_seconds: float = 2.0
