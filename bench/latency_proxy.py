"""A TCP proxy that holds every chunk back a fixed time each way: a server across a network.

On one machine every round trip to PostgreSQL takes a fraction of a millisecond, which hides
what a deployment with its database in another host or zone pays for each one. The pipeline
benchmark's ``--database-delay-ms`` puts this proxy between the services and PostgreSQL
(the benchmark's own reads go straight to it). It runs in a process of its own, so its work
does not slow the benchmark's event loop; a chunk is forwarded ``delay`` seconds after it
arrived (order kept), so a round trip gains twice that.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event as MpEvent

HOST = "127.0.0.1"
CHUNK = 65536
START_TIMEOUT = 30.0


async def _forward(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``source`` to ``sink``, each chunk ``delay`` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    held: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

    async def release() -> None:
        while True:
            due, data = await held.get()
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            if data is None:
                with contextlib.suppress(OSError):
                    sink.write_eof()
                return
            sink.write(data)
            await sink.drain()

    releasing = asyncio.create_task(release())
    try:
        while data := await source.read(CHUNK):
            held.put_nowait((loop.time() + delay, data))
    except OSError:
        pass
    held.put_nowait((loop.time() + delay, None))
    with contextlib.suppress(OSError):
        await releasing


async def _serve(listen_port: int, upstream_port: int, delay: float, ready: MpEvent) -> None:
    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, upstream_port)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(
                _forward(reader, up_writer, delay), _forward(up_reader, writer, delay)
            )
        finally:
            for w in (writer, up_writer):
                w.close()

    server = await asyncio.start_server(connection, HOST, listen_port)
    ready.set()
    async with server:
        await server.serve_forever()


def _run(listen_port: int, upstream_port: int, delay: float, ready: MpEvent) -> None:
    asyncio.run(_serve(listen_port, upstream_port, delay, ready))


@contextlib.contextmanager
def latency_proxy(listen_port: int, upstream_port: int, delay_ms: float) -> Iterator[int]:
    """Run the proxy for the length of the block; yields the port to connect to."""
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(
        target=_run,
        args=(listen_port, upstream_port, delay_ms / 1000, ready),
        name="latency-proxy",
        daemon=True,
    )
    proc.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.2):
            if not proc.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the latency proxy did not listen on :{listen_port}")
        yield listen_port
    finally:
        proc.terminate()
        proc.join(10)
