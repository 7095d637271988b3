"""The object store (any S3 API: SeaweedFS, MinIO, AWS S3, R2) through the `minio` client.

The client is synchronous; uploads from async code go through :meth:`ObjectStore.put_stream`:
the event loop hands each chunk as it arrives to a worker thread (:class:`_Handoff`, bounded
in bytes), which hashes it and sends it on while the loop receives the next, so an upload
of any size holds a few MiB at most. How the bytes go out depends on what is known:

- the length (a raw upload's ``Content-Length``), up to :data:`STREAMED_PUT_MAX`: one PUT
  whose body is sent as it arrives: the object store receives the recording while the
  client is still sending it, instead of after;
- no length, and the stream ends within one part: one PUT of what was received;
- anything larger: a multipart upload of :data:`PART_SIZE` parts (minio's), each part sent
  while the next is received.

The two single PUTs are signed ``UNSIGNED-PAYLOAD``, as minio signs every request over
HTTPS: over plain HTTP it would hash the whole payload into the signature before sending a
byte (a second SHA-256 beside the recording's own, and no streaming possible).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlunsplit

import urllib3
from minio import Minio
from minio.credentials import Credentials
from minio.error import S3Error
from minio.helpers import BaseURL
from minio.signer import sign_v4_s3
from minio.time import to_amz_date, utcnow
from opentelemetry import trace

from callstream_common.settings import CommonSettings

tracer = trace.get_tracer("callstream.objectstore")

MiB = 1024 * 1024
PART_SIZE = 8 * MiB
STREAMED_PUT_MAX = 64 * MiB
"""Above this a known length still goes as multipart: parts overlap with the receiving
anyway, and one PUT would hold its connection open for the whole of a long upload."""
HANDOFF_BYTES = 4 * MiB
CONNECTIONS = 64
"""Pooled connections to the store, and threads sending uploads: one per upload in flight."""
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_EOF = object()


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


class UploadAborted(Exception):
    """Raised by the producer side to stop an upload; the partial object is never visible."""


class _Handoff:
    """Chunks from the event loop to the upload's thread, at most ``limit`` bytes waiting.

    The loop side awaits room (woken through the loop when the thread takes a chunk); the
    thread blocks on a condition. The thread hashes what it takes: hashlib releases the
    GIL, so the loop keeps receiving meanwhile instead of hashing each chunk itself."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int = HANDOFF_BYTES) -> None:
        self._loop = loop
        self._limit = limit
        self._items: deque[object] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._room = asyncio.Event()
        self._producer_waiting = False
        self._consumer_gone = False
        self._ended = False
        self._buf = bytearray()
        self.digest = hashlib.sha256()
        self.taken = 0

    async def put(self, chunk: bytes, upload: asyncio.Future[Any]) -> None:
        """Queue ``chunk``, waiting for room; if the thread stopped taking, its error."""
        while True:
            with self._cond:
                if self._consumer_gone:
                    break
                if self._bytes < self._limit or not self._items:
                    self._items.append(chunk)
                    self._bytes += len(chunk)
                    self._cond.notify()
                    return
                self._producer_waiting = True
                self._room.clear()
            await self._room.wait()
        await upload
        raise RuntimeError("object store upload ended early")

    def close(self) -> None:
        self._push(_EOF, drop_waiting=False)

    def fail(self, exc: BaseException) -> None:
        """Make the thread's next take raise ``exc`` (what is still queued is dropped)."""
        self._push(exc, drop_waiting=True)

    def _push(self, item: object, drop_waiting: bool) -> None:
        with self._cond:
            if drop_waiting:
                self._items.clear()
                self._bytes = 0
            self._items.append(item)
            self._cond.notify()

    def _take(self) -> bytes | None:
        """The next chunk (hashed), None at the end; raises what :meth:`fail` was given."""
        if self._ended:
            return None
        with self._cond:
            while not self._items:
                self._cond.wait()
            item = self._items.popleft()
            if isinstance(item, bytes | bytearray):
                self._bytes -= len(item)
            wake = self._producer_waiting and self._bytes < self._limit
            if wake:
                self._producer_waiting = False
        if wake:
            self._loop.call_soon_threadsafe(self._room.set)
        if item is _EOF:
            self._ended = True
            return None
        if isinstance(item, BaseException):
            self._ended = True
            raise UploadAborted(str(item) or type(item).__name__) from item
        assert isinstance(item, bytes | bytearray)
        self.digest.update(item)
        self.taken += len(item)
        return item if isinstance(item, bytes) else bytes(item)

    def gone(self) -> None:
        """The thread stopped taking (done or failed): a waiting producer must not wait on."""
        with self._cond:
            self._consumer_gone = True
        self._loop.call_soon_threadsafe(self._room.set)

    def chunks(self) -> Iterator[bytes]:
        """What is left, chunk by chunk (after what :meth:`read` buffered)."""
        if self._buf:
            yield bytes(self._buf)
            self._buf.clear()
        while (chunk := self._take()) is not None:
            yield chunk

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of what :meth:`read` and :meth:`chunks` give next."""
        self._buf[0:0] = data

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes (fewer only at the end): the file-like side minio reads parts from."""
        while size < 0 or len(self._buf) < size:
            chunk = self._take()
            if chunk is None:
                break
            self._buf += chunk
        if size < 0:
            size = len(self._buf)
        with memoryview(self._buf) as view:
            out = bytes(view[:size])
        del self._buf[:size]
        return out


def _exactly(chunks: Iterable[bytes], length: int) -> Iterator[bytes]:
    """``chunks`` as long as they add up to ``length``; an error (which makes urllib3 drop
    the connection mid-body, so the store keeps nothing) the moment they cannot.

    The chunk that completes ``length`` is held back until the stream is known to end
    there: with every byte it was promised the store keeps the object whatever the client
    does next, so a longer stream must fail before that byte is sent."""
    sent = 0
    last: bytes | None = None
    for chunk in chunks:
        if not chunk:
            continue
        sent += len(chunk)
        if last is not None or sent > length:
            raise UploadAborted(f"more than the {length} bytes declared")
        if sent == length:
            last = chunk
        else:
            yield chunk
    if sent != length:
        raise UploadAborted(f"{sent} bytes where {length} were declared")
    if last is not None:
        yield last


def _refusal(response: urllib3.BaseHTTPResponse) -> Exception:
    """The error for a PUT the store did not accept (5xx without an S3 error: an outage)."""
    if response.data and "xml" in response.headers.get("content-type", ""):
        return S3Error.fromxml(response)
    if response.status >= 500:
        return ConnectionError(f"object store answered HTTP {response.status}")
    return RuntimeError(f"object store answered HTTP {response.status}")


class ObjectStore:
    def __init__(self, settings: CommonSettings) -> None:
        self.bucket = settings.s3_bucket
        access_key = settings.s3_access_key.get_secret_value()
        secret_key = settings.s3_secret_key.get_secret_value()
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=60),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[503]),
            maxsize=CONNECTIONS,
        )
        self.client = Minio(
            settings.s3_endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=self._http,
        )
        scheme = "https" if settings.s3_secure else "http"
        self._base_url = BaseURL(f"{scheme}://{settings.s3_endpoint}", settings.s3_region)
        self._region = self._base_url.region or settings.s3_region or "us-east-1"
        self._credentials = Credentials(access_key, secret_key)
        self._senders = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="objectstore-put")

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

    def put_streamed(
        self,
        key: str,
        body: Iterable[bytes],
        length: int,
        content_type: str = "application/octet-stream",
    ) -> None:
        """One PUT of ``length`` bytes sent as ``body`` yields them (``UNSIGNED-PAYLOAD``).

        Never retried once a byte may have left (``body`` cannot be replayed): a
        connection failing before the request was sent is retried, one failing mid-body is
        the upload's error. A ``body`` that raises drops the connection mid-body, so the
        store keeps nothing of it."""
        url = self._base_url.build(
            method="PUT", region=self._region, bucket_name=self.bucket, object_name=key
        )
        date = utcnow()
        headers = sign_v4_s3(
            method="PUT",
            url=url,
            region=self._region,
            headers={
                "Host": url.netloc,
                "Content-Type": content_type,
                "Content-Length": str(length),
                "x-amz-content-sha256": UNSIGNED_PAYLOAD,
                "x-amz-date": to_amz_date(date),
            },
            credentials=self._credentials,
            content_sha256=UNSIGNED_PAYLOAD,
            date=date,
        )
        response = self._http.urlopen(
            "PUT",
            urlunsplit(url),
            body=_exactly(body, length),
            headers={k: str(v) for k, v in headers.items()},
            retries=urllib3.Retry(total=2, connect=2, read=0, other=0, status=0, redirect=0),
            redirect=False,
        )
        if response.status != 200:
            raise _refusal(response)

    def _send(self, key: str, handoff: _Handoff, length: int | None, content_type: str) -> None:
        """The upload's thread: what :meth:`put_stream` hands over, sent as the module
        docstring says."""
        try:
            if length is not None and length <= STREAMED_PUT_MAX:
                self.put_streamed(key, handoff.chunks(), length, content_type)
                return
            first = handoff.read(PART_SIZE + 1)
            if len(first) <= PART_SIZE:
                self.put_streamed(key, [first], len(first), content_type)
                return
            handoff.unread(first)
            self.client.put_object(
                self.bucket,
                key,
                handoff,  # type: ignore[arg-type]  # minio only calls read()
                length=-1,
                part_size=PART_SIZE,
                content_type=content_type,
            )
        finally:
            handoff.gone()

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        content_type: str = "application/octet-stream",
        first: bytes = b"",
        length: int | None = None,
    ) -> StoredObject:
        """Stream ``first`` + ``chunks`` into ``key``, hashing on the way (in the thread).

        ``length``, when the caller knows it, lets the bytes go out as they arrive (see the
        module docstring); a stream that turns out shorter or longer fails. If ``chunks``
        raises (client disconnected, size limit hit), the upload is abandoned and the
        exception propagates: no half-written object remains.
        """
        with tracer.start_as_current_span(
            "s3 put", attributes={"s3.bucket": self.bucket, "s3.key": key}
        ) as span:
            loop = asyncio.get_running_loop()
            handoff = _Handoff(loop)
            upload = loop.run_in_executor(
                self._senders, self._send, key, handoff, length, content_type
            )
            size = 0
            try:
                if first:
                    size += len(first)
                    await handoff.put(first, upload)
                async for chunk in chunks:
                    if chunk:
                        size += len(chunk)
                        await handoff.put(chunk, upload)
                handoff.close()
                await upload
            except BaseException as exc:
                handoff.fail(exc if isinstance(exc, Exception) else UploadAborted("cancelled"))
                try:
                    await upload
                except Exception:  # noqa: S110 - the original error is the one that matters
                    pass
                await loop.run_in_executor(None, self._remove_quietly, key)
                raise
            span.set_attribute("s3.size", size)
            return StoredObject(key=key, size=size, sha256=handoff.digest.hexdigest())

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
