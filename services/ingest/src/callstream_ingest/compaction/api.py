"""HTTP routes of the Parquet archive: list datasets and runs, trigger a compaction,
upload a Parquet file into a dataset.

Triggers are not executed here: they become ``CompactionRequested`` events, so the
compactor does the work with its retries and DLQ. An upload is streamed to a staging key,
checked with pyarrow against the dataset's versioned schema (stored in Postgres by the
compactor, so ingest needs none of its code), registered and announced; a corrupt file or
a wrong schema is answered with a 4xx and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from callstream_common import compaction_store, topics
from callstream_common.arrow_schema import schema_problems
from callstream_common.contracts import CompactionRequested, CompactionTrigger
from callstream_common.db.models import Role
from callstream_ingest.auth import Principal
from callstream_ingest.bodies import UploadBody, read_multipart, read_raw
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.state import IngestState

log = logging.getLogger(__name__)
compaction_router = APIRouter(prefix="/v1/compaction", tags=["compaction"])

DATASET_NAME = r"^[a-z][a-z0-9_-]{0,63}$"
PARQUET_MAGIC = b"PAR1"


def require_operator(who: Principal) -> None:
    if who.role not in (Role.ADMIN, Role.MANAGER):
        raise ApiError(403, "forbidden", "only admins and managers may use the archive")


async def dataset_schema(st: IngestState, name: str) -> pa.Schema:
    async with st.sessions() as session:
        ds = await compaction_store.get_dataset(session, name)
    if ds is None:
        raise ApiError(404, "unknown_dataset", f"there is no dataset {name!r}")
    return pa.ipc.read_schema(pa.py_buffer(ds.arrow_schema))


async def publish_request(st: IngestState, event: CompactionRequested) -> None:
    try:
        await asyncio.wait_for(
            st.broker.publish(
                event.model_dump(mode="json"),
                topics.COMPACTION_REQUESTED,
                key=event.dataset.encode(),
            ),
            st.settings.kafka_publish_timeout_seconds,
        )
    except Exception as exc:
        if isinstance(exc, TimeoutError | OSError | ConnectionError) or type(
            exc
        ).__module__.startswith("aiokafka"):
            raise ApiError(503, "kafka_unavailable", "the event bus is unavailable") from exc
        raise


# --------------------------------------------------------------------------- reads


@compaction_router.get("/datasets")
async def list_datasets(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    require_operator(who)
    async with state(request).sessions() as session:
        datasets = await compaction_store.list_datasets(session)
    return {
        "datasets": [
            {
                "name": d.name,
                "schema_version": d.schema_version,
                "files": d.files,
                "partitions": d.partitions,
                "rows": d.rows,
                "bytes": d.bytes,
                "compaction_needed": d.compaction_needed,
                "needed_since": d.needed_since,
                "last_appended_at": d.last_appended_at,
                "last_compaction_at": d.last_compacted_at,
            }
            for d in datasets
        ]
    }


class RunView(BaseModel):
    id: uuid.UUID
    dataset: str
    partition_date: date | None
    trigger: str
    status: str
    step: str
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int
    bytes_before: int
    bytes_after: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None


@compaction_router.get("/runs")
async def list_runs(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    dataset: Annotated[str | None, Query(pattern=DATASET_NAME)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, list[RunView]]:
    require_operator(who)
    async with state(request).sessions() as session:
        runs = await compaction_store.list_runs(session, dataset, limit)
    return {"runs": [RunView.model_validate(r, from_attributes=True) for r in runs]}


# --------------------------------------------------------------------------- triggers


class TriggerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: Annotated[str, Field(pattern=DATASET_NAME)]
    partition_date: date | None = None


@compaction_router.post("/trigger", status_code=202)
async def trigger_compaction(
    request: Request, body: TriggerRequest, who: Annotated[Principal, Depends(principal)]
) -> JSONResponse:
    require_operator(who)
    st = state(request)
    await dataset_schema(st, body.dataset)
    event = CompactionRequested(
        dataset=body.dataset, partition_date=body.partition_date, trigger=CompactionTrigger.MANUAL
    )
    await publish_request(st, event)
    log.info("%s requested compaction of %s", who.name, body.dataset)
    return JSONResponse(
        {
            "event_id": str(event.event_id),
            "dataset": event.dataset,
            "partition_date": event.partition_date.isoformat() if event.partition_date else None,
            "trigger": event.trigger.value,
        },
        status_code=202,
    )


def validate_parquet(path: Path, expected: pa.Schema) -> int:
    """Rows of a readable, schema-compatible Parquet file; raises ApiError otherwise.

    Every page is decoded (not only the footer), so a truncated or damaged file is
    refused here rather than failing the compactor later."""
    try:
        pf = pq.ParquetFile(path)
        problems = schema_problems(pf.schema_arrow, expected)
        if problems:
            raise ApiError(
                422,
                "schema_mismatch",
                "the file does not match the dataset's schema",
                {"problems": problems},
            )
        required = [f.name for f in expected if not f.nullable]
        rows = 0
        for batch in pf.iter_batches(batch_size=65_536):
            rows += batch.num_rows
            nulls = [n for n in required if batch.column(n).null_count]
            if nulls:
                raise ApiError(
                    422,
                    "schema_mismatch",
                    "required columns contain nulls",
                    {"problems": [f"nulls in required column {n!r}" for n in nulls]},
                )
        return rows
    except (pa.ArrowException, OSError) as exc:
        raise ApiError(400, "corrupt_parquet", f"the file is not readable Parquet: {exc}") from exc


@compaction_router.post("/upload", status_code=202)
async def upload_parquet(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    dataset: Annotated[str, Query(pattern=DATASET_NAME)] = "calls",
) -> JSONResponse:
    require_operator(who)
    st = state(request)
    expected = await dataset_schema(st, dataset)
    content_type = request.headers.get("content-type", "")
    body: UploadBody
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        body = await read_multipart(request.stream(), content_type, st.settings.max_upload_bytes)
    else:
        body = await read_raw(request.stream(), st.settings.max_upload_bytes)
    if not body.head:
        raise ApiError(400, "empty_body", "the request has no file")
    if not body.head.startswith(PARQUET_MAGIC):
        raise ApiError(400, "corrupt_parquet", "the file is not Parquet (no PAR1 header)")

    upload_id = uuid.uuid4()
    key = compaction_store.staging_key(dataset, upload_id)
    stored = await st.store.put_stream(
        key, body.rest, "application/vnd.apache.parquet", first=body.head
    )
    try:
        with tempfile.TemporaryDirectory(prefix="callstream-upload-") as tmp:
            path = Path(tmp) / "upload.parquet"
            await asyncio.to_thread(st.store.download, key, path)
            rows = await asyncio.to_thread(validate_parquet, path, expected)
        async with st.sessions() as session, session.begin():
            await compaction_store.register_upload(
                session,
                upload_id,
                dataset,
                key,
                rows,
                stored.size,
                body.filename,
                who.credential_id,
            )
            await publish_request(
                st, CompactionRequested(dataset=dataset, trigger=CompactionTrigger.UPLOAD)
            )
    except BaseException:
        await asyncio.to_thread(st.store.remove, key)
        raise
    log.info("upload %s into %s: %d rows, %d bytes", upload_id, dataset, rows, stored.size)
    return JSONResponse(
        {
            "upload_id": str(upload_id),
            "dataset": dataset,
            "rows": rows,
            "bytes": stored.size,
            "sha256": stored.sha256,
            "status": "pending",
        },
        status_code=202,
    )
