"""The benchmark's delaying proxy: every byte through, in order, each way held back."""

from __future__ import annotations

import asyncio
import socket
import time

from bench.latency_proxy import latency_proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def test_a_round_trip_through_the_proxy_gains_twice_its_delay_and_keeps_every_byte() -> None:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    upstream = server.sockets[0].getsockname()[1]
    async with server:
        with latency_proxy(free_port(), upstream, delay_ms=25) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            began = time.perf_counter()
            writer.write(b"ping")
            await writer.drain()
            assert await reader.readexactly(4) == b"ping"
            assert time.perf_counter() - began >= 0.05
            payload = bytes(range(256)) * 1024
            writer.write(payload)
            await writer.drain()
            assert await reader.readexactly(len(payload)) == payload
            writer.close()
