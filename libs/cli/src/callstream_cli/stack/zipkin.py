"""Zipkin, the tracing UI and span collector, from its executable jar on Maven Central."""

from __future__ import annotations

import shutil

from callstream_cli.stack.component import Component, StackError
from callstream_cli.stack.downloads import ensure_zipkin_jar


class Zipkin(Component):
    """Zipkin with in-memory storage (bounded, so the small heap is never exhausted)."""

    name = "zipkin"
    product = "Zipkin"

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.zipkin_port}"

    def ports(self) -> list[int]:
        return [self.settings.zipkin_port]

    def endpoint(self) -> str:
        return f"{self.base_url}/zipkin/"

    def prepare(self) -> None:
        ensure_zipkin_jar(self.settings)
        self.home.mkdir(parents=True, exist_ok=True)
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        java = shutil.which(self.settings.java_bin)
        if java is None:
            raise StackError(f"{self.settings.java_bin!r} not found; run scripts/bootstrap.sh")
        # Zipkin 3 serves through Armeria: its port list replaces QUERY_PORT, and giving the
        # entry an ip without a port would make it listen on a random port. C1-only JIT
        # halves the Spring Boot start-up (about 11 s -> 6 s here) and trims memory; a local
        # tracing UI never needs C2's peak throughput.
        return [
            java,
            f"-Xmx{self.settings.zipkin_heap}",
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:-UsePerfData",
            "-jar",
            str(self.settings.zipkin_jar),
            f"--armeria.ports[0].port={self.settings.zipkin_port}",
            f"--armeria.ports[0].ip={self.settings.host}",
            "--armeria.ports[0].protocols=http",
        ]

    def env(self) -> dict[str, str]:
        return {
            "STORAGE_TYPE": "mem",
            "MEM_MAX_SPANS": str(self.settings.zipkin_max_spans),
            "SELF_TRACING_ENABLED": "false",
        }

    async def ready(self) -> None:
        import httpx  # client libraries load only when used

        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(f"{self.base_url}/health")
        response.raise_for_status()
        status = response.json().get("status")
        if status != "UP":
            raise StackError(f"zipkin health status {status!r}")

    async def version(self) -> str:
        import httpx

        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(f"{self.base_url}/info")
        response.raise_for_status()
        info = response.json().get("zipkin", {})
        return f"{self.product} {info.get('version', 'unknown')}"
