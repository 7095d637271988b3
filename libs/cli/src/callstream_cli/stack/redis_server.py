"""Redis from Debian's ``redis-server``, run in the foreground under our supervisor."""

from __future__ import annotations

import shutil

from callstream_cli.stack.component import Component, StackError


class Redis(Component):
    """The shared cache; snapshots go to the stack folder."""

    name = "redis"
    product = "Redis"

    def ports(self) -> list[int]:
        return [self.settings.redis_port]

    def endpoint(self) -> str:
        return f"redis://{self.settings.host}:{self.settings.redis_port}/0"

    def _binary(self) -> str:
        binary = shutil.which(self.settings.redis_server_bin)
        if binary is None:
            raise StackError("redis-server not found; run scripts/bootstrap.sh")
        return binary

    def prepare(self) -> None:
        self._binary()
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        # Options on the command line instead of a config file: no /etc/redis defaults apply
        # (the Debian file daemonizes and writes to /var), and the log goes to stdout.
        return [
            self._binary(),
            "--port",
            str(self.settings.redis_port),
            "--bind",
            self.settings.host,
            "--daemonize",
            "no",
            "--supervised",
            "no",
            "--dir",
            str(self.home / "data"),
            "--logfile",
            "",
            "--pidfile",
            "",
            "--protected-mode",
            "yes",
            "--maxmemory",
            "256mb",
            "--maxmemory-policy",
            "allkeys-lru",
        ]

    async def _info(self) -> dict[str, object]:
        from redis.asyncio import Redis as RedisClient  # loaded only when used

        client = RedisClient(
            host=self.settings.host, port=self.settings.redis_port, socket_timeout=3
        )
        try:
            await client.ping()
            return await client.info("server")
        finally:
            await client.aclose()

    async def ready(self) -> None:
        await self._info()

    async def version(self) -> str:
        info = await self._info()
        return f"{self.product} {info.get('redis_version', 'unknown')}"
