"""The compaction API in-process (ingest's app with the compaction router) against the
real stack: bad uploads are refused with a JSON error and leave nothing behind."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from callstream_common.compaction_store import dataset_prefix
from callstream_common.objectstore import ObjectStore
from callstream_compactor import schema as sch
from callstream_compactor.archive import ensure_dataset

pytestmark = pytest.mark.stack

DATASET = f"api{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def api_tokens(sessions: Any) -> dict[str, str]:
    from callstream_common.credentials import create_credential
    from callstream_common.db.models import Role

    await ensure_dataset(sessions, DATASET)
    suffix = uuid.uuid4().hex[:6]
    async with sessions() as session, session.begin():
        return {
            "admin": await create_credential(session, f"c-admin-{suffix}", Role.ADMIN),
            "user": await create_credential(session, f"c-user-{suffix}", Role.USER, rep_id="r"),
        }


@pytest.fixture(scope="module")
def client(common_settings: Any, api_tokens: dict[str, str]) -> Iterator[TestClient]:
    from callstream_ingest.app import create_app
    from callstream_ingest.compaction.api import compaction_router
    from callstream_ingest.settings import IngestSettings

    settings = IngestSettings(**(common_settings.model_dump() | {"log_json": False}))
    app = create_app(settings)
    if not any(getattr(r, "path", "").startswith("/v1/compaction") for r in app.routes):
        app.include_router(compaction_router)
    with TestClient(app) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def good_table() -> pa.Table:
    return sch.rows_to_table(
        [
            {
                "conversation_id": str(uuid.uuid4()),
                "event_id": str(uuid.uuid4()),
                "analyzed_at": "2026-11-20T10:00:00+00:00",
                "archived_at": "2026-11-20T10:00:01+00:00",
                "status": "completed",
                "opportunity_name": "Acme",
                "rep_id": "rep-a",
            }
        ]
    )


def staged(common_settings: Any) -> list[str]:
    return ObjectStore(common_settings).list_keys(f"{dataset_prefix(DATASET)}_staging/")


def upload(client: TestClient, token: str, data: bytes) -> Any:
    return client.post(
        f"/v1/compaction/upload?dataset={DATASET}",
        content=data,
        headers={**auth(token), "Content-Type": "application/vnd.apache.parquet"},
    )


def test_a_user_may_not_trigger_or_upload(client: TestClient, api_tokens: dict[str, str]) -> None:
    r = client.post(
        "/v1/compaction/trigger", json={"dataset": DATASET}, headers=auth(api_tokens["user"])
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert upload(client, api_tokens["user"], parquet(good_table())).status_code == 403


def test_corrupt_file_is_refused_and_nothing_is_stored(
    client: TestClient, api_tokens: dict[str, str], common_settings: Any
) -> None:
    r = upload(client, api_tokens["admin"], b"this is not parquet at all")
    assert r.status_code == 400 and r.json()["error"]["code"] == "corrupt_parquet"
    truncated = parquet(good_table())[:-30]
    r = upload(client, api_tokens["admin"], truncated)
    assert r.status_code == 400 and r.json()["error"]["code"] == "corrupt_parquet"
    assert staged(common_settings) == []


def test_wrong_schema_is_refused_with_the_problems(
    client: TestClient, api_tokens: dict[str, str], common_settings: Any
) -> None:
    wrong = good_table().drop_columns(["rep_id"]).append_column("secret", pa.array(["x"]))
    r = upload(client, api_tokens["admin"], parquet(wrong))
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "schema_mismatch"
    assert "missing column 'rep_id' (string)" in error["details"]["problems"]
    assert staged(common_settings) == []


def test_a_good_upload_and_a_trigger_are_accepted_and_listed(
    client: TestClient, api_tokens: dict[str, str]
) -> None:
    r = upload(client, api_tokens["admin"], parquet(good_table()))
    assert r.status_code == 202, r.text
    assert r.json()["rows"] == 1 and r.json()["status"] == "pending"
    r = client.post(
        "/v1/compaction/trigger", json={"dataset": DATASET}, headers=auth(api_tokens["admin"])
    )
    assert r.status_code == 202 and r.json()["trigger"] == "manual"
    r = client.post(
        "/v1/compaction/trigger", json={"dataset": "nope"}, headers=auth(api_tokens["admin"])
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_dataset"
    listed = client.get("/v1/compaction/datasets", headers=auth(api_tokens["admin"])).json()
    assert DATASET in {d["name"] for d in listed["datasets"]}
    runs = client.get(f"/v1/compaction/runs?dataset={DATASET}", headers=auth(api_tokens["admin"]))
    assert runs.status_code == 200 and "runs" in runs.json()
    for path in ("/v1/compaction/datasets", "/v1/compaction/runs"):
        assert client.get(path, headers=auth(api_tokens["user"])).status_code == 403
