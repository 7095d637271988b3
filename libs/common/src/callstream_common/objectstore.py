"""The object store (any S3 API: SeaweedFS, MinIO, AWS S3, R2) through the `minio` client.

The client is synchronous; uploads from async code go through :meth:`ObjectStore.put_stream`,
which hands chunks to a worker thread through a small bounded queue, so an upload of any
size holds at most ``part_size`` plus a few chunks in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from minio import Minio
from minio.error import S3Error
from opentelemetry import trace

from callstream_common.settings import CommonSettings

tracer = trace.get_tracer("callstream.objectstore")

PART_SIZE = 8 * 1024 * 1024
_EOF = object()


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


class UploadAborted(Exception):
    """Raised by the producer side to stop an upload; the partial object is never visible."""


class _QueueReader:
    """A file-like ``read()`` over chunks pushed from the event loop (minio reads parts).

    It also hashes what it takes, on the upload's thread: hashlib releases the GIL, so the
    event loop keeps receiving the next chunks meanwhile instead of hashing each itself."""

    def __init__(self, q: queue.Queue[object]) -> None:
        self._q = q
        self._buf = bytearray()
        self._eof = False
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buf) < size):
            item = self._q.get()
            if item is _EOF:
                self._eof = True
            elif isinstance(item, BaseException):
                raise item
            else:
                assert isinstance(item, bytes | bytearray)
                self.digest.update(item)
                self._buf += item
        if size < 0:
            size = len(self._buf)
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out


class ObjectStore:
    def __init__(self, settings: CommonSettings) -> None:
        self.bucket = settings.s3_bucket
        self.client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=3, read=60),
                retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[503]),
                maxsize=16,
            ),
        )

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def ping(self) -> None:
        """Raise unless the store answers and the bucket exists."""
        if not self.client.bucket_exists(self.bucket):
            raise RuntimeError(f"bucket {self.bucket!r} does not exist")

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        content_type: str = "application/octet-stream",
        first: bytes = b"",
    ) -> StoredObject:
        """Stream ``first`` + ``chunks`` into ``key``, hashing on the way (in the reader).

        If ``chunks`` raises (client disconnected, size limit hit), the multipart upload
        is aborted by minio and the exception propagates: no half-written object remains.
        """
        with tracer.start_as_current_span(
            "s3 put", attributes={"s3.bucket": self.bucket, "s3.key": key}
        ) as span:
            q: queue.Queue[object] = queue.Queue(maxsize=8)
            size = 0
            loop = asyncio.get_running_loop()
            reader = _QueueReader(q)
            upload = loop.run_in_executor(
                None,
                lambda: self.client.put_object(
                    self.bucket,
                    key,
                    reader,  # type: ignore[arg-type]  # minio only calls read()
                    length=-1,
                    part_size=PART_SIZE,
                    content_type=content_type,
                ),
            )

            async def push(item: object) -> None:
                while True:
                    if upload.done():
                        upload.result()  # surfaces the upload's own error
                        raise RuntimeError("object store upload ended early")
                    try:
                        q.put_nowait(item)
                        return
                    except queue.Full:
                        await asyncio.sleep(0.002)

            try:
                if first:
                    size += len(first)
                    await push(first)
                async for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    await push(chunk)
                await push(_EOF)
            except BaseException as exc:
                # Fail the reader so minio aborts the multipart upload.
                abort = exc if isinstance(exc, Exception) else UploadAborted("cancelled")
                await _drain_and_fail(q, abort)
                try:
                    await upload
                except Exception:  # noqa: S110 - the original error is the one that matters
                    pass
                await loop.run_in_executor(None, self._remove_quietly, key)
                raise
            await upload
            span.set_attribute("s3.size", size)
            return StoredObject(key=key, size=size, sha256=reader.digest.hexdigest())

    def _remove_quietly(self, key: str) -> None:
        try:
            self.client.remove_object(self.bucket, key)
        except S3Error:
            pass

    def download(self, key: str, path: Path) -> int:
        with tracer.start_as_current_span(
            "s3 get", attributes={"s3.bucket": self.bucket, "s3.key": key}
        ) as span:
            self.client.fget_object(self.bucket, key, str(path))
            size = path.stat().st_size
            span.set_attribute("s3.size", size)
            return size

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        import io

        with tracer.start_as_current_span("s3 put", attributes={"s3.key": key}):
            self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type)

    def get_bytes(self, key: str) -> bytes:
        with tracer.start_as_current_span("s3 get", attributes={"s3.key": key}):
            resp = self.client.get_object(self.bucket, key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

    def open_range(self, key: str, offset: int = 0, length: int = 0) -> Any:
        """A streaming response of ``length`` bytes from ``offset`` (0: to the end); the
        caller reads it in chunks and must ``close()`` and ``release_conn()`` it."""
        return self.client.get_object(self.bucket, key, offset=offset, length=length)

    def confirm(self, key: str) -> int:
        """The object's size, read from its metadata (no download); raises ``S3Error``
        (``NoSuchKey``) when it is not there, as a download of it would."""
        with tracer.start_as_current_span("s3 stat", attributes={"s3.key": key}) as span:
            size: int = self.client.stat_object(self.bucket, key).size or 0
            span.set_attribute("s3.size", size)
            return size

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise

    def remove(self, key: str) -> None:
        with tracer.start_as_current_span("s3 delete", attributes={"s3.key": key}):
            self.client.remove_object(self.bucket, key)

    def list_keys(self, prefix: str) -> list[str]:
        return [
            o.object_name
            for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            if o.object_name
        ]


async def _drain_and_fail(q: queue.Queue[object], exc: Exception) -> None:
    while True:
        try:
            q.put_nowait(exc)
            return
        except queue.Full:
            try:
                q.get_nowait()
            except queue.Empty:
                pass
