"""Reading an upload as a stream: multipart (field ``file``) or a raw body.

Nothing is buffered beyond a network chunk: the multipart parser hands file bytes over as
they arrive, and the size limit is enforced on the running count, so a 96 MB or a 2 GB
recording costs the same memory. The first :data:`SNIFF_BYTES` bytes are held back to
recognise the container before anything is written to the object store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from callstream_ingest.errors import ApiError
from callstream_ingest.upload.sniff import SNIFF_BYTES

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS_BYTES = 256 * 1024
"""All form fields together: repeated fields (``participants``) are kept, not replaced."""


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"the recording is larger than the limit of {limit} bytes",
        {"limit_bytes": limit},
    )


@dataclass
class UploadBody:
    """The file's bytes as an async stream, plus the form fields once parsing is done
    (every value of a field, in the order sent: a field may be repeated)."""

    head: bytes
    rest: AsyncIterator[bytes]
    fields: dict[str, list[str]] = field(default_factory=dict)
    filename: str | None = None


class _MultipartState:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}
        self.filename: str | None = None
        self.file_chunks: list[bytes] = []
        self.seen_file = False
        self.file_done = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._value = bytearray()
        self._fields_bytes = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_cb,
            "on_header_value": self._header_value_cb,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers, self._name, self._is_file = {}, None, False
        self._value = bytearray()

    def _header_field_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self._name = name
        self._is_file = b"filename" in params or name == "file"
        if self._is_file:
            if name != "file":
                raise ApiError(
                    400,
                    "unexpected_file_field",
                    f"the recording must be sent in the multipart field 'file', not {name!r}",
                )
            if self.seen_file:
                raise ApiError(400, "multiple_files", "send exactly one recording per request")
            self.seen_file = True
            raw_name = params.get(b"filename")
            self.filename = raw_name.decode("utf-8", "replace") if raw_name else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.file_chunks.append(bytes(data[start:end]))
        else:
            self._value += data[start:end]
            self._fields_bytes += end - start
            if len(self._value) > MAX_FIELD_BYTES:
                raise ApiError(400, "field_too_large", f"form field {self._name!r} is too large")
            if self._fields_bytes > MAX_FIELDS_BYTES:
                raise ApiError(400, "field_too_large", "the form fields are too large together")

    def _part_end(self) -> None:
        if self._is_file:
            self.file_done = True
        elif self._name:
            value = self._value.decode("utf-8", "replace")
            self.fields.setdefault(self._name, []).append(value)


async def _limited(chunks: AsyncIterator[bytes], already: int, limit: int) -> AsyncIterator[bytes]:
    total = already
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        yield chunk


async def _take_head(chunks: AsyncIterator[bytes]) -> tuple[bytes, bool]:
    """Read until SNIFF_BYTES are held or the stream ends; True if it ended."""
    head = bytearray()
    async for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            return bytes(head), False
    return bytes(head), True


async def read_raw(stream: AsyncIterator[bytes], limit: int) -> UploadBody:
    chunks = _limited(stream, 0, limit)
    head, ended = await _take_head(chunks)

    async def rest() -> AsyncIterator[bytes]:
        if not ended:
            async for chunk in chunks:
                yield chunk

    return UploadBody(head=head, rest=rest())


async def read_multipart(stream: AsyncIterator[bytes], content_type: str, limit: int) -> UploadBody:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "malformed_multipart", "multipart body without a boundary")
    state = _MultipartState()
    parser = MultipartParser(boundary, state.callbacks())  # type: ignore[arg-type]
    body = UploadBody(head=b"", rest=_empty())
    stream_iter = stream.__aiter__()

    async def file_bytes() -> AsyncIterator[bytes]:
        async for raw in stream_iter:
            try:
                parser.write(raw)
            except ApiError:
                raise
            except Exception as exc:
                raise ApiError(
                    400, "malformed_multipart", f"malformed multipart body: {exc}"
                ) from exc
            while state.file_chunks:
                yield state.file_chunks.pop(0)
        parser.finalize()
        while state.file_chunks:
            yield state.file_chunks.pop(0)
        body.fields, body.filename = state.fields, state.filename
        if not state.seen_file:
            raise ApiError(400, "missing_file", "the multipart field 'file' is missing")

    chunks = _limited(file_bytes(), 0, limit)
    head, ended = await _take_head(chunks)
    body.head = head
    body.fields, body.filename = state.fields, state.filename
    if ended and not state.seen_file:
        raise ApiError(400, "missing_file", "the multipart field 'file' is missing")

    async def rest() -> AsyncIterator[bytes]:
        if not ended:
            async for chunk in chunks:
                yield chunk
        body.fields, body.filename = state.fields, state.filename

    body.rest = rest()
    return body


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""
