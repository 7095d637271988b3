"""The versioned Arrow schema of the archive and upload compatibility."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from callstream_compactor import schema as sch


def row(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "conversation_id": "6f1c0000-0000-0000-0000-000000000001",
        "event_id": "6f1c0000-0000-0000-0000-000000000002",
        "analyzed_at": "2026-11-20T23:59:59+00:00",
        "archived_at": "2026-11-21T00:00:01+00:00",
        "status": "completed",
        "opportunity_name": "Acme",
        "rep_id": "rep-a",
        "conversation_date": "2026-11-19",
        "overall_score": 3.5,
        "score_metrics": 4,
    }
    base.update(over)
    return base


def test_schema_is_versioned_in_its_metadata() -> None:
    meta = sch.CALLS_SCHEMA.metadata
    assert meta[b"callstream.schema_version"] == str(sch.SCHEMA_VERSION).encode()
    assert meta[b"callstream.dataset"] == b"calls"
    assert "date" not in sch.CALLS_SCHEMA.names  # the partition lives in the path only


def test_schema_has_one_score_column_per_meddic_dimension() -> None:
    assert len(sch.SCORE_COLUMNS) == 6
    for column in sch.SCORE_COLUMNS:
        assert sch.CALLS_SCHEMA.field(column).type == pa.int8()


def test_rows_to_table_parses_json_times_and_dates() -> None:
    table = sch.rows_to_table([row()])
    assert table.schema.equals(sch.CALLS_SCHEMA, check_metadata=False)
    got = table.to_pylist()[0]
    assert got["analyzed_at"] == datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
    assert str(got["conversation_date"]) == "2026-11-19"
    assert got["score_champion"] is None


def test_partition_is_the_utc_day_of_the_analysis() -> None:
    moment = datetime.fromisoformat("2026-11-21T01:30:00+02:00")
    assert str(sch.partition_of(moment)) == "2026-11-20"


def test_the_schema_itself_is_compatible() -> None:
    assert sch.schema_problems(sch.CALLS_SCHEMA, sch.CALLS_SCHEMA) == []


def test_widened_types_and_reordered_columns_are_compatible() -> None:
    fields = list(reversed(list(sch.CALLS_SCHEMA)))
    fields = [pa.field(f.name, pa.int32()) if f.type == pa.int8() else f for f in fields]
    fields = [pa.field(f.name, pa.int32()) if f.name == "size_bytes" else f for f in fields]
    assert sch.schema_problems(pa.schema(fields), sch.CALLS_SCHEMA) == [
        "column 'score_metrics' is int32, expected int8",
        "column 'score_economic_buyer' is int32, expected int8",
        "column 'score_decision_criteria' is int32, expected int8",
        "column 'score_decision_process' is int32, expected int8",
        "column 'score_identify_pain' is int32, expected int8",
        "column 'score_champion' is int32, expected int8",
    ]  # narrowing is refused; widening int32 → int64 (size_bytes) is accepted


def test_missing_extra_and_retyped_columns_are_named() -> None:
    fields = [f for f in sch.CALLS_SCHEMA if f.name != "rep_id"]
    fields = [pa.field(f.name, pa.string()) if f.name == "overall_score" else f for f in fields]
    fields.append(pa.field("secret", pa.string()))
    problems = sch.schema_problems(pa.schema(fields), sch.CALLS_SCHEMA)
    assert "missing column 'rep_id' (string)" in problems
    assert "column 'overall_score' is string, expected double" in problems
    assert "unexpected column 'secret'" in problems


def test_conform_casts_and_reorders_a_compatible_table() -> None:
    table = sch.rows_to_table([row()])
    wider = table.set_column(
        table.schema.get_field_index("priority"),
        pa.field("priority", pa.int16()),
        pa.array([3], pa.int16()),
    ).select(list(reversed(table.column_names)))
    out = sch.conform(wider, sch.CALLS_SCHEMA)
    assert out.schema.equals(sch.CALLS_SCHEMA)
    assert out.column("priority").to_pylist() == [3]


def test_conform_refuses_nulls_in_required_columns() -> None:
    table = sch.rows_to_table([row()])
    fields = [pa.field(f.name, f.type, nullable=True) for f in sch.CALLS_SCHEMA]
    loose = pa.table(
        {
            **{n: table.column(n) for n in table.column_names},
            "rep_id": pa.array([None], pa.string()),
        },
        schema=pa.schema(fields),
    )
    with pytest.raises(ValueError, match="rep_id"):
        sch.conform(loose, sch.CALLS_SCHEMA)
