from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callstream_ingest.bodies import read_multipart, read_raw
from callstream_ingest.errors import ApiError

BOUNDARY = "xyzBOUNDARY"


def multipart(parts: list[tuple[str, bytes, str | None]]) -> bytes:
    out = b""
    for name, value, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunked(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def collect(body: object) -> bytes:
    out = body.head  # type: ignore[attr-defined]
    async for chunk in body.rest:  # type: ignore[attr-defined]
        out += chunk
    return out


CTYPE = f"multipart/form-data; boundary={BOUNDARY}"
AUDIO = b"RIFF" + b"\x01" * 5000


async def test_multipart_streams_the_file_and_collects_fields_before_and_after() -> None:
    data = multipart(
        [("opportunity_name", b"Acme", None), ("file", AUDIO, "a.wav"), ("rep_id", b"r1", None)]
    )
    body = await read_multipart(chunked(data), CTYPE, limit=10_000)
    assert body.fields == {"opportunity_name": ["Acme"]}
    assert await collect(body) == AUDIO
    assert body.fields == {"opportunity_name": ["Acme"], "rep_id": ["r1"]}
    assert body.filename == "a.wav"


async def test_a_repeated_field_keeps_every_value_in_order() -> None:
    data = multipart(
        [
            ("participants", b"Ann Lee", None),
            ("file", AUDIO, "a.wav"),
            ("participants", "Bo Ström".encode(), None),
        ]
    )
    body = await read_multipart(chunked(data), CTYPE, limit=10_000)
    await collect(body)
    assert body.fields == {"participants": ["Ann Lee", "Bo Ström"]}


async def test_the_form_fields_together_are_bounded() -> None:
    many = [("participants", b"x" * 60_000, None) for _ in range(5)]
    data = multipart([*many, ("file", AUDIO, "a.wav")])
    with pytest.raises(ApiError) as info:
        await collect(await read_multipart(chunked(data, 4096), CTYPE, limit=10_000))
    assert info.value.status == 400 and info.value.code == "field_too_large"


async def test_size_limit_is_enforced_while_streaming() -> None:
    data = multipart([("file", AUDIO, "a.wav")])
    body = await read_multipart(chunked(data, 100), CTYPE, limit=1000)
    with pytest.raises(ApiError) as info:
        await collect(body)
    assert info.value.status == 413 and info.value.code == "too_large"


async def test_missing_file_field() -> None:
    data = multipart([("opportunity_name", b"Acme", None)])
    with pytest.raises(ApiError) as info:
        await read_multipart(chunked(data), CTYPE, limit=1000)
    assert info.value.code == "missing_file"


async def test_file_in_the_wrong_field() -> None:
    data = multipart([("audio", AUDIO, "a.wav")])
    with pytest.raises(ApiError) as info:
        await read_multipart(chunked(data), CTYPE, limit=10_000)
    assert info.value.code == "unexpected_file_field"


async def test_no_boundary() -> None:
    with pytest.raises(ApiError) as info:
        await read_multipart(chunked(b"x"), "multipart/form-data", limit=10)
    assert info.value.code == "malformed_multipart"


async def test_raw_body_keeps_every_byte() -> None:
    body = await read_raw(chunked(AUDIO, 13), limit=10_000)
    assert len(body.head) >= 64
    assert await collect(body) == AUDIO
