"""The Arrow schema of the ``calls`` archive, versioned.

The schema is a contract with the analytics team: a column is never renamed or retyped
within a version. A change is a new :data:`SCHEMA_VERSION`, recorded in every file's
metadata and in the dataset's row in Postgres (where ingest reads it to check uploads).
The partition (``date=YYYY-MM-DD``) is derived from ``analyzed_at`` and lives only in the
path, so DuckDB/Spark/pandas hive partitioning never meets a clashing column.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from callstream_common.arrow_schema import schema_problems as schema_problems
from callstream_common.contracts import MeddicDimension

SCHEMA_VERSION = 1
TIME_COLUMN = "analyzed_at"
KEY_COLUMN = "conversation_id"
TS = pa.timestamp("us", tz="UTC")

SCORE_COLUMNS = tuple(f"score_{d.value}" for d in MeddicDimension)
STAGE_SECONDS_COLUMNS = ("upload_seconds", "transcription_seconds", "analysis_seconds")

_FIELDS: list[pa.Field] = [
    pa.field("conversation_id", pa.string(), nullable=False),
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("analyzed_at", TS, nullable=False),
    pa.field("archived_at", TS, nullable=False),
    pa.field("status", pa.string(), nullable=False),
    pa.field("failure_reason", pa.string()),
    pa.field("opportunity_name", pa.string(), nullable=False),
    pa.field("company_name", pa.string()),
    pa.field("rep_id", pa.string(), nullable=False),
    pa.field("title", pa.string()),
    pa.field("conversation_date", pa.date32()),
    pa.field("content_type", pa.string()),
    pa.field("size_bytes", pa.int64()),
    pa.field("duration_seconds", pa.float64()),
    pa.field("priority", pa.int32()),
    pa.field("overall_score", pa.float64()),
    pa.field("qualification_status", pa.string()),
    *(pa.field(c, pa.int8()) for c in SCORE_COLUMNS),
    pa.field("created_at", TS),
    pa.field("completed_at", TS),
    *(pa.field(c, pa.float64()) for c in STAGE_SECONDS_COLUMNS),
    pa.field("trace_id", pa.string()),
]


def dataset_schema(name: str = "calls") -> pa.Schema:
    return pa.schema(
        _FIELDS,
        metadata={
            b"callstream.dataset": name.encode(),
            b"callstream.schema_version": str(SCHEMA_VERSION).encode(),
        },
    )


CALLS_SCHEMA = dataset_schema()


def conform(table: pa.Table, expected: pa.Schema) -> pa.Table:
    """Reorder and cast a compatible table to ``expected`` (raises ``ValueError`` if not)."""
    problems = schema_problems(table.schema, expected)
    if problems:
        raise ValueError("; ".join(problems))
    nulls = [f.name for f in expected if not f.nullable and table.column(f.name).null_count]
    if nulls:
        raise ValueError(f"nulls in required columns: {', '.join(nulls)}")
    return table.select(expected.names).cast(expected, safe=True)


def partition_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _parse(value: Any, type_: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_timestamp(type_):
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    if pa.types.is_date(type_):
        return date.fromisoformat(value) if isinstance(value, str) else value
    return value


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema = CALLS_SCHEMA) -> pa.Table:
    """Rows as stored in the buffer (JSON: ISO strings for times) to an Arrow table."""
    columns = {
        f.name: pa.array([_parse(r.get(f.name), f.type) for r in rows], type=f.type) for f in schema
    }
    return pa.Table.from_pydict(columns, schema=schema)
