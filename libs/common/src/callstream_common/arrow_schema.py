"""When a Parquet file may join a dataset: the schema-compatibility rule, written once for
ingest (which refuses an incompatible upload with a 4xx) and the compactor (which casts
what it reads), so a file ingest accepts is a file the compactor can read."""

from __future__ import annotations

import pyarrow as pa


def schema_problems(actual: pa.Schema, expected: pa.Schema) -> list[str]:
    """Why ``actual`` cannot be read as ``expected`` (empty when it can).

    Compatible means: the same column names, each of the expected type or one that casts
    to it without loss (e.g. int32 → int64, timestamp[ms, UTC] → timestamp[us, UTC]).
    Extra columns are refused: silently dropping data would hide a wrong file. Nulls in
    required columns are a property of the data, checked where the rows are read.
    """
    problems: list[str] = []
    names = set(actual.names)
    for f in expected:
        if f.name not in names:
            problems.append(f"missing column {f.name!r} ({f.type})")
            continue
        got = actual.field(f.name).type
        if got != f.type and not safely_castable(got, f.type):
            problems.append(f"column {f.name!r} is {got}, expected {f.type}")
    for extra in sorted(names - set(expected.names)):
        problems.append(f"unexpected column {extra!r}")
    return problems


def safely_castable(src: pa.DataType, dst: pa.DataType) -> bool:
    """Lossless reads only: wider integers and floats, timezone-aware timestamps of a
    coarser unit, either string width, dates."""
    if pa.types.is_integer(src) and pa.types.is_integer(dst):
        widening = src.bit_width < dst.bit_width or src == dst
        return bool(
            widening and (pa.types.is_signed_integer(dst) or pa.types.is_unsigned_integer(src))
        )
    if pa.types.is_floating(src) and pa.types.is_floating(dst):
        return bool(src.bit_width <= dst.bit_width)
    if pa.types.is_timestamp(src) and pa.types.is_timestamp(dst):
        return src.tz is not None and src.unit in ("s", "ms", "us")
    if pa.types.is_string(dst):
        return pa.types.is_string(src) or pa.types.is_large_string(src)
    return bool(pa.types.is_date(src) and pa.types.is_date(dst))
