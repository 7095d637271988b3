"""What a FastStream service runs beside its consumers so operators can watch it: the
``/metrics`` port and the reader that keeps its consumer groups' lag fresh."""

from __future__ import annotations

import asyncio
import contextlib

from faststream.kafka import KafkaBroker

from callstream_common import lag
from callstream_common.metrics import MetricsServer
from callstream_common.settings import CommonSettings


class ServiceObservability:
    def __init__(self, settings: CommonSettings, broker: KafkaBroker) -> None:
        self._settings = settings
        self._broker = broker
        self._server: MetricsServer | None = None
        self._lag: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """After the broker started: its subscribers (and so its groups) are known."""
        settings = self._settings
        if settings.metrics_port:
            token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
            self._server = MetricsServer(settings.metrics_host, settings.metrics_port, token)
            self._server.start()
        self._lag = asyncio.create_task(
            lag.monitor(settings, self._broker, settings.metrics_lag_interval_seconds),
            name="consumer-lag",
        )

    async def stop(self) -> None:
        if self._lag is not None:
            self._lag.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)
