"""A TCP proxy in front of a real server that breaks a connection partway through what the
client sends: the object store going away in the middle of an upload's PUT, as a crash or
a network failure does it (the client sees the connection reset; the server a request cut
short, which it must not keep)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class CuttingProxy:
    """Forwards connections to ``upstream``; one whose client sends more than ``budget``
    bytes is closed on both sides once that many have gone through (answers are passed
    whole). ``cut`` counts the connections broken that way."""

    def __init__(self, upstream: tuple[str, int], budget: int) -> None:
        self.upstream = upstream
        self.budget = budget
        self.cut = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._closed = threading.Event()

    @property
    def endpoint(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def _pump(self, source: socket.socket, sink: socket.socket, budget: int | None) -> None:
        sent = 0
        try:
            while data := source.recv(64 * 1024):
                if budget is not None and sent + len(data) > budget:
                    sink.sendall(data[: budget - sent])
                    self.cut += 1
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for pump in ((client, server, self.budget), (server, client, None)):
                threading.Thread(target=self._pump, args=pump, daemon=True).start()

    @contextmanager
    def running(self) -> Iterator[CuttingProxy]:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._closed.set()
            self._listener.close()
            thread.join(5)
