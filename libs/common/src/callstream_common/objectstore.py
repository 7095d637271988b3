"""The object store (any S3 API: SeaweedFS, MinIO, AWS S3, R2) through the `minio` client.

Uploads from async code go through :meth:`ObjectStore.put_stream`, which hashes the bytes
(SHA-256) on the way and holds a few MiB of an upload at most. How the bytes go out depends
on what is known:

- the length (a raw upload's ``Content-Length``), up to :data:`STREAMED_PUT_MAX`: one PUT
  sent from the event loop (aiohttp) as the bytes arrive, each chunk written to the store's
  connection as it is received: the object store receives the recording while the client
  is still sending it, with no thread or copy in between;
- no length, and the stream ends within one part: the same PUT, of what was received;
- anything larger: a multipart upload of :data:`PART_SIZE` parts by minio's (blocking)
  client on a worker thread, fed through :class:`_Handoff` (bounded in bytes), each part
  sent while the next is received.

The single PUTs are signed by minio's SigV4 signer with ``UNSIGNED-PAYLOAD``, as minio signs
every request over HTTPS: over plain HTTP it would hash the whole payload into the
signature before sending a byte (a second SHA-256 beside the recording's own, and no
streaming possible).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlunsplit

import aiohttp
import urllib3
from minio import Minio
from minio.credentials import Credentials
from minio.error import S3Error
from minio.helpers import BaseURL
from minio.signer import sign_v4_s3
from minio.time import to_amz_date, utcnow
from opentelemetry import trace
from yarl import URL

from callstream_common.settings import CommonSettings

tracer = trace.get_tracer("callstream.objectstore")

MiB = 1024 * 1024
PART_SIZE = 8 * MiB
STREAMED_PUT_MAX = 64 * MiB
"""Above this a known length still goes as multipart: parts overlap with the receiving
anyway, and one PUT would hold its connection open for the whole of a long upload."""
HANDOFF_BYTES = 4 * MiB
CONNECTIONS = 64
"""Pooled connections to the store (per client), and threads sending multipart uploads."""
CONNECT_ATTEMPTS = 3
"""A PUT whose connection cannot be opened is tried again (no byte of its body was taken)."""
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


class _Tally:
    """The bytes of a PUT as they go out: counted, hashed, and held to the declared length
    (an error the moment they cannot add up to it, which drops the connection mid-body, so
    the store keeps nothing)."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.size = 0
        self.digest = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.length:
            raise UploadAborted(f"more than the {self.length} bytes declared")
        self.digest.update(chunk)

    def end(self) -> None:
        if self.size != self.length:
            raise UploadAborted(f"{self.size} bytes where {self.length} were declared")


async def _first_part(
    first: bytes, chunks: AsyncIterator[bytes]
) -> tuple[list[bytes], AsyncIterator[bytes] | None]:
    """A stream of unknown length read up to just over one part: (what was read, the rest;
    None when the stream ended within one part, so its length is known after all)."""
    held = [first] if first else []
    size = len(first)
    rest = aiter(chunks)
    while size <= PART_SIZE:
        chunk = await anext(rest, None)
        if chunk is None:
            return held, None
        held.append(chunk)
        size += len(chunk)
    return held, rest


async def _chained(held: list[bytes], rest: AsyncIterator[bytes] | None) -> AsyncIterator[bytes]:
    while held:
        yield held.pop(0)
    if rest is not None:
        async for chunk in rest:
            yield chunk


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
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

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

    def _signed_put(self, key: str, length: int, content_type: str) -> tuple[str, dict[str, str]]:
        """The URL and headers of a PUT of ``length`` bytes, signed ``UNSIGNED-PAYLOAD``."""
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
        return urlunsplit(url), {k: str(v) for k, v in headers.items()}

    def put_from_memory(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """One blocking PUT of bytes in hand, signed as :meth:`put_stream` signs its PUT,
        through urllib3's pool (the upload bench's bare PUT)."""
        url, headers = self._signed_put(key, len(data), content_type)
        response = self._http.urlopen(
            "PUT",
            url,
            body=data,
            headers=headers,
            retries=urllib3.Retry(total=2, connect=2, read=0, other=0, status=0, redirect=0),
            redirect=False,
        )
        if response.status != 200:
            raise _refusal(response)

    def _client(self) -> aiohttp.ClientSession:
        """The event loop's pooled HTTP client (made on first use, on the running loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTIONS),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=3, sock_read=60),
                auto_decompress=False,
            )
            self._session_loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the event loop's connections (at shutdown)."""
        if self._session is not None and self._session_loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    async def _put_as_it_arrives(
        self, key: str, chunks: AsyncIterator[bytes], length: int, content_type: str
    ) -> tuple[int, str]:
        """One PUT of ``length`` bytes whose body is ``chunks``, each written to the store's
        connection as it arrives; (size, sha256).

        The error of ``chunks`` (the client gone, the size limit) is raised as it is; the
        store failing is a ``ConnectionError`` (an ``S3Error`` if it answered one). Opening
        the connection is tried again; nothing else is (the body cannot be replayed)."""
        tally = _Tally(length)
        failed: list[Exception] = []

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    if chunk:
                        tally.add(chunk)
                        yield chunk
                tally.end()
            except Exception as exc:
                failed.append(exc)
                raise

        url, headers = self._signed_put(key, length, content_type)
        broken: aiohttp.ClientError | None = None
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                async with self._client().put(
                    URL(url, encoded=True), data=body(), headers=headers
                ) as response:
                    if response.status != 200:
                        data = await response.read()
                        raise _refusal(
                            urllib3.HTTPResponse(
                                body=data, headers=dict(response.headers), status=response.status
                            )
                        )
                broken = None
                break
            except aiohttp.ClientConnectorError as exc:
                broken = exc
                if tally.size or attempt == CONNECT_ATTEMPTS:
                    break
                await asyncio.sleep(0.2 * attempt)
            except aiohttp.ClientError as exc:
                broken = exc
                break
        if failed:
            raise failed[0]
        if broken is not None:
            raise ConnectionError(f"object store PUT failed: {broken}") from broken
        return tally.size, tally.digest.hexdigest()

    def _send_parts(self, key: str, handoff: _Handoff, content_type: str) -> None:
        """The upload's thread: what :meth:`_put_parts` hands over, as a multipart upload."""
        try:
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

    async def _put_parts(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str
    ) -> tuple[int, str]:
        """A multipart upload of ``chunks`` by minio on a worker thread, each chunk handed
        over as it arrives and hashed there; (size, sha256)."""
        loop = asyncio.get_running_loop()
        handoff = _Handoff(loop)
        upload = loop.run_in_executor(self._senders, self._send_parts, key, handoff, content_type)
        try:
            async for chunk in chunks:
                if chunk:
                    await handoff.put(chunk, upload)
            handoff.close()
            await upload
        except BaseException as exc:
            handoff.fail(exc if isinstance(exc, Exception) else UploadAborted("cancelled"))
            try:
                await upload
            except Exception:  # noqa: S110 - the original error is the one that matters
                pass
            raise
        return handoff.taken, handoff.digest.hexdigest()

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        content_type: str = "application/octet-stream",
        first: bytes = b"",
        length: int | None = None,
    ) -> StoredObject:
        """Stream ``first`` + ``chunks`` into ``key``, hashing on the way.

        ``length``, when the caller knows it, lets the bytes go out as they arrive (see the
        module docstring); a stream that turns out shorter or longer fails. If ``chunks``
        raises (client disconnected, size limit hit), the upload is abandoned and the
        exception propagates: no half-written object remains.
        """
        with tracer.start_as_current_span(
            "s3 put", attributes={"s3.bucket": self.bucket, "s3.key": key}
        ) as span:
            try:
                held: list[bytes] = [first] if first else []
                rest: AsyncIterator[bytes] | None = chunks
                if length is None:
                    held, rest = await _first_part(first, chunks)
                    if rest is None:
                        length = sum(map(len, held))
                if length is not None and length <= STREAMED_PUT_MAX:
                    stream = _chained(held, rest)
                    size, sha256 = await self._put_as_it_arrives(key, stream, length, content_type)
                else:
                    size, sha256 = await self._put_parts(key, _chained(held, rest), content_type)
            except BaseException:
                await asyncio.get_running_loop().run_in_executor(None, self._remove_quietly, key)
                raise
            span.set_attribute("s3.size", size)
            return StoredObject(key=key, size=size, sha256=sha256)

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
