"""The baselines of ``bench.ingest``: bare PUTs of the same bytes to the same object store,
without ingest (see that module's docstring for what each one is)."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext

import urllib3
from minio import Minio

from bench.common import console
from callstream_cli.stack.endpoints import StackEndpoints

PHASE_TIMEOUT = 600.0


def s3_client(endpoints: StackEndpoints, pool: int) -> Minio:
    """A minio client as ingest builds it (same endpoint and credentials)."""
    return Minio(
        endpoints.s3_endpoint,
        access_key=endpoints.s3_access_key.get_secret_value(),
        secret_key=endpoints.s3_secret_key.get_secret_value(),
        secure=False,
        http_client=urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=120), maxsize=max(pool, 1)
        ),
    )


class _Reader:
    """A file-like object over an iterable of chunks (minio only calls ``read``)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._it, None)
            if chunk is None:
                break
            self._buf += chunk
        n = len(self._buf) if size < 0 else size
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


def measure_bare_puts(
    endpoints: StackEndpoints,
    body: bytes,
    concurrency: int,
    count: int,
    warmup: int,
    minio_put_object: bool = False,
    around: AbstractContextManager[object] | None = None,
) -> tuple[list[float], float, list[str]]:
    """``count`` bare PUTs of ``body`` from ``concurrency`` threads; (durations, wall, keys).

    The PUT is ingest's own (:meth:`ObjectStore.put_streamed`, from memory:
    ``UNSIGNED-PAYLOAD``, urllib3's kept-alive pooled connections), or with
    ``minio_put_object`` minio's ``put_object`` (payload hashed into the signature).
    ``around`` wraps the measured PUTs (after the warm-up)."""
    from callstream_common.objectstore import ObjectStore
    from callstream_common.settings import CommonSettings

    store = ObjectStore(
        CommonSettings(
            s3_endpoint=endpoints.s3_endpoint,
            s3_access_key=endpoints.s3_access_key,
            s3_secret_key=endpoints.s3_secret_key,
            s3_bucket=endpoints.s3_bucket,
        )
    )
    client = s3_client(endpoints, concurrency)
    bucket = endpoints.s3_bucket
    keys: list[str] = []

    def put() -> float:
        key = f"bench/baseline/{uuid.uuid4()}.wav"
        keys.append(key)
        t0 = time.perf_counter()
        if minio_put_object:
            client.put_object(bucket, key, io.BytesIO(body), len(body), content_type="audio/wav")
        else:
            store.put_streamed(key, [body], len(body), "audio/wav")
        return time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bare-put") as pool:
        list(pool.map(lambda _: put(), range(max(warmup, concurrency))))
        with around or nullcontext():
            began = time.perf_counter()
            durations = list(pool.map(lambda _: put(), range(count), timeout=PHASE_TIMEOUT))
            wall = time.perf_counter() - began
    return durations, wall, keys


def remove_objects(endpoints: StackEndpoints, keys: Sequence[str]) -> None:
    """Delete ``keys`` (missing ones are fine: S3 deletes are idempotent)."""
    from minio.deleteobjects import DeleteObject

    client = s3_client(endpoints, 4)
    for start in range(0, len(keys), 500):
        batch = [DeleteObject(k) for k in keys[start : start + 500]]
        for error in client.remove_objects(endpoints.s3_bucket, batch):
            console.print(f"[yellow]could not remove[/] {error.name}: {error.message}")
