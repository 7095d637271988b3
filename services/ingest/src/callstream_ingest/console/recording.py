"""Streaming a recording with HTTP Range (what an <audio> element needs to seek).

``parse_range`` is pure; ``stream_recording`` reads only the asked bytes from the object
store, in chunks, so a long call is never held in memory."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi.responses import Response, StreamingResponse

from callstream_common.objectstore import ObjectStore

CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int
    """Inclusive, as in Content-Range."""

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class UnsatisfiableRange(ValueError):
    pass


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """None for the whole file; one range (multi-range requests get the first range's
    answer, which browsers never send for media anyway)."""
    if not header:
        return None
    match = _RANGE.match(header.split(",")[0].strip())
    if match is None:
        raise UnsatisfiableRange(header)
    first, last = match.groups()
    if first == "" and last == "":
        raise UnsatisfiableRange(header)
    if first == "":
        length = min(int(last), size)
        if length == 0:
            raise UnsatisfiableRange(header)
        return ByteRange(size - length, size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise UnsatisfiableRange(header)
    return ByteRange(start, end)


async def _chunks(store: ObjectStore, key: str, span: ByteRange) -> AsyncIterator[bytes]:
    response = await asyncio.to_thread(
        store.client.get_object, store.bucket, key, offset=span.start, length=span.length
    )
    try:
        while True:
            chunk = await asyncio.to_thread(response.read, CHUNK_BYTES)
            if not chunk:
                break
            yield chunk
    finally:
        response.close()
        response.release_conn()


def stream_recording(
    store: ObjectStore, key: str, size: int, content_type: str, range_header: str | None
) -> Response:
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300"}
    try:
        span = parse_range(range_header, size)
    except UnsatisfiableRange:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    status = 206 if span is not None else 200
    span = span or ByteRange(0, size - 1)
    headers["Content-Length"] = str(span.length)
    if status == 206:
        headers["Content-Range"] = f"bytes {span.start}-{span.end}/{size}"
    return StreamingResponse(
        _chunks(store, key, span), status_code=status, media_type=content_type, headers=headers
    )
