from __future__ import annotations

from croniter import croniter
from pydantic import Field, field_validator

from callstream_common.settings import CommonSettings


class CompactorSettings(CommonSettings):
    service_name: str = "compactor"
    consumer_group: str = "compactor"
    metrics_port: int | None = 8104

    archive_dataset: str = "calls"
    archive_flush_rows: int = Field(default=500, ge=1)
    """Flush the buffer into one Parquet file per partition once this many rows wait..."""
    archive_flush_seconds: float = Field(default=30.0, gt=0)
    """...or once the oldest buffered row has waited this long."""

    compaction_target_file_bytes: int = Field(default=128 * 1024 * 1024, ge=1024)
    compaction_small_file_fraction: float = Field(default=0.5, gt=0, le=1)
    """A file smaller than this fraction of the target is merged; larger ones are left."""
    compaction_event_threshold_files: int = Field(default=32, ge=2)
    """A partition with this many small files asks for its own compaction (trigger=event)."""
    compaction_orphan_grace_seconds: float = Field(default=6 * 3600, ge=0)
    """Files not in the manifest are deleted only once older than this, so a flush or a
    run still in progress in another process never loses its freshly written file."""

    compaction_schedule_enabled: bool = True
    compaction_schedule_cron: str = "0 2 * * *"
    """When the scheduled compaction fires, in UTC (cron syntax, via croniter)."""
    compaction_schedule_max_datasets: int = Field(default=10, ge=1)

    @field_validator("compaction_schedule_cron")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        if not croniter.is_valid(v):
            raise ValueError(f"not a valid cron expression: {v!r}")
        return v
