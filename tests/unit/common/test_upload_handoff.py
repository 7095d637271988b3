"""The handoff between the event loop receiving an upload and the thread sending it to the
object store as a multipart upload: bounded in bytes, in order, hashed once, and failing
the way an upload must (the thread sees the producer's error; the producer sees the
thread's). And the tally a PUT sent from the event loop keeps: counted, hashed, held to
its declared length."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from typing import Any

import pytest

from callstream_common.objectstore import UploadAborted, _chained, _first_part, _Handoff, _Tally


def consume(handoff: _Handoff, seen: list[bytes], peaks: list[int]) -> None:
    while chunk := handoff.read(16 * 1024):
        peaks.append(handoff._bytes)
        seen.append(chunk)


async def test_chunks_arrive_in_order_hashed_once_and_never_more_than_the_bound_waits() -> None:
    loop = asyncio.get_running_loop()
    handoff = _Handoff(loop, limit=64 * 1024)
    data = [os.urandom(16 * 1024) for _ in range(200)]
    seen: list[bytes] = []
    peaks: list[int] = []

    def run() -> None:
        try:
            consume(handoff, seen, peaks)
        finally:
            handoff.gone()

    upload = loop.run_in_executor(None, run)
    for chunk in data:
        await handoff.put(chunk, upload)
    handoff.close()
    await upload
    assert seen == data
    assert handoff.taken == sum(map(len, data))
    assert handoff.digest.hexdigest() == hashlib.sha256(b"".join(data)).hexdigest()
    assert max(peaks) < 64 * 1024 + 16 * 1024


async def test_read_gives_whole_parts_and_fewer_bytes_only_at_the_end() -> None:
    loop = asyncio.get_running_loop()
    handoff = _Handoff(loop)
    for chunk in (b"abc", b"defg", b"h"):
        await handoff.put(chunk, loop.create_future())
    handoff.close()
    parts = await asyncio.to_thread(lambda: [handoff.read(5), handoff.read(5), handoff.read(5)])
    assert parts == [b"abcde", b"fgh", b""]


async def test_the_producer_s_error_reaches_the_thread_and_drops_what_was_queued() -> None:
    loop = asyncio.get_running_loop()
    handoff = _Handoff(loop)
    await handoff.put(b"x" * 10, loop.create_future())
    handoff.fail(RuntimeError("client went away"))
    with pytest.raises(UploadAborted, match="client went away"):
        await asyncio.to_thread(handoff.read)


async def test_a_producer_waiting_for_room_gets_the_thread_s_own_error() -> None:
    loop = asyncio.get_running_loop()
    handoff = _Handoff(loop, limit=10)
    started = threading.Event()

    def sender() -> Any:
        started.set()
        try:
            handoff.read(1)
            raise ConnectionError("object store went away")
        finally:
            handoff.gone()

    await handoff.put(b"y" * 20, loop.create_future())
    upload = loop.run_in_executor(None, sender)
    with pytest.raises(ConnectionError, match="object store went away"):
        for _ in range(10):
            await asyncio.wait_for(handoff.put(b"z" * 20, upload), 5)
    assert started.is_set()


def test_a_declared_length_is_held_to_exactly_and_what_went_out_is_hashed() -> None:
    tally = _Tally(4)
    for chunk in (b"ab", b"cd"):
        tally.add(chunk)
    tally.end()
    assert (tally.size, tally.digest.hexdigest()) == (4, hashlib.sha256(b"abcd").hexdigest())
    short = _Tally(4)
    short.add(b"abc")
    with pytest.raises(UploadAborted, match="3 bytes where 4"):
        short.end()
    with pytest.raises(UploadAborted, match="more than the 4 bytes"):
        _Tally(4).add(b"abcde")


async def chunks_of(*sizes: int) -> Any:
    for n in sizes:
        yield b"x" * n


async def test_a_stream_of_unknown_length_is_read_to_just_over_one_part_or_its_end() -> None:
    """Within one part its length is known after all (one PUT); past it the rest follows
    what was read, in order (a multipart upload)."""
    part = 8 * 1024 * 1024
    held, rest = await _first_part(b"head", chunks_of(1000, 2000))
    assert rest is None and [len(c) for c in held] == [4, 1000, 2000]
    held, rest = await _first_part(b"", chunks_of(part, 1, 5, 7))
    assert rest is not None and [len(c) for c in held] == [part, 1]
    assert [len(c) async for c in _chained(held, rest)] == [part, 1, 5, 7]
