from __future__ import annotations

from callstream_common.settings import CommonSettings


class IngestSettings(CommonSettings):
    service_name: str = "ingest"
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 500 * 1024 * 1024
    kafka_publish_timeout_seconds: float = 10.0
