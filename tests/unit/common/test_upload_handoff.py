"""The handoff between the event loop receiving an upload and the thread sending it to the
object store: bounded in bytes, in order, hashed once, and failing the way an upload must
(the thread sees the producer's error; the producer sees the thread's)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from typing import Any

import pytest

from callstream_common.objectstore import UploadAborted, _exactly, _Handoff


def consume(handoff: _Handoff, seen: list[bytes], peaks: list[int]) -> None:
    for chunk in handoff.chunks():
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


async def test_read_gives_whole_parts_and_unread_puts_bytes_back_in_front() -> None:
    loop = asyncio.get_running_loop()
    handoff = _Handoff(loop)
    for chunk in (b"abc", b"defg", b"h"):
        await handoff.put(chunk, loop.create_future())
    handoff.close()
    first = await asyncio.to_thread(handoff.read, 5)
    assert first == b"abcde"
    handoff.unread(first)
    assert await asyncio.to_thread(lambda: b"".join(handoff.chunks())) == b"abcdefgh"


async def test_the_producer_s_error_reaches_the_thread_and_drops_what_was_queued() -> None:
    loop = asyncio.get_running_loop()
    handoff = _Handoff(loop)
    await handoff.put(b"x" * 10, loop.create_future())
    handoff.fail(RuntimeError("client went away"))
    with pytest.raises(UploadAborted, match="client went away"):
        await asyncio.to_thread(lambda: list(handoff.chunks()))


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


def test_a_declared_length_is_held_to_exactly() -> None:
    assert b"".join(_exactly([b"ab", b"cd"], 4)) == b"abcd"
    with pytest.raises(UploadAborted, match="3 bytes where 4"):
        list(_exactly([b"ab", b"c"], 4))
    with pytest.raises(UploadAborted, match="more than the 4 bytes"):
        list(_exactly([b"ab", b"cde"], 4))


def test_the_chunk_completing_a_declared_length_waits_for_the_stream_to_end() -> None:
    """With every byte it was promised the store keeps the object whatever follows, so
    a longer stream must fail before the last declared byte leaves (the integration test
    of a stream breaking its length found the object kept now and then)."""
    sent: list[bytes] = []
    with pytest.raises(UploadAborted, match="more than the 4 bytes declared"):
        for chunk in _exactly([b"ab", b"cd", b"e"], 4):
            sent.append(chunk)
    assert sent == [b"ab"]
    assert list(_exactly([b"ab", b"", b"cd", b""], 4)) == [b"ab", b"cd"]
