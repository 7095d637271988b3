"""Run the five services as local processes beside the stack (`callstream services ...`).

Each service is an ordinary process started from the workspace's Python with the stack's
environment; the same commands run in containers (docker-compose.yml) or on a platform.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from callstream_cli.stack.endpoints import StackEndpoints
from callstream_cli.stack.process import ManagedProcess, ProcessError, tail
from callstream_cli.stack.settings import StackSettings

SERVICE_MODULES = {
    "ingest": "callstream_ingest",
    "transcriber": "callstream_transcriber",
    "analyzer": "callstream_analyzer",
    "notifier": "callstream_notifier",
    "compactor": "callstream_compactor",
}


@dataclass(frozen=True)
class ServiceSet:
    settings: StackSettings
    ingest_port: int = 8000
    extra_env: tuple[tuple[str, str], ...] = ()
    names: tuple[str, ...] = tuple(SERVICE_MODULES)
    endpoints: StackEndpoints | None = None
    """Where the stack answers; derived from ``settings`` unless given (containers)."""
    replicas: tuple[tuple[str, int], ...] = ()
    """Instances per service where more than one: ``(("transcriber", 2),)`` runs
    ``transcriber`` and ``transcriber-2`` in one consumer group (the extra ones without a
    metrics port), as a deployment scales a stage."""

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.ingest_port}"

    def env(self) -> dict[str, str]:
        endpoints = self.endpoints or StackEndpoints.from_settings(self.settings)
        env = endpoints.service_env()
        env.update(
            {
                "CALLSTREAM_PORT": str(self.ingest_port),
                "CALLSTREAM_HOST": self.settings.host,
                "CALLSTREAM_PUBLIC_BASE_URL": self.base_url,
                "CALLSTREAM_TRACING_UI_URL": endpoints.zipkin_url + "/zipkin",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(dict(self.extra_env))
        return env

    def metrics_port(self, name: str) -> int:
        """Ingest serves ``/metrics`` on its API port; every other service on its own,
        ``ingest_port + 100 + n`` (8101-8104 beside the default 8000)."""
        if name == "ingest":
            return self.ingest_port
        return self.ingest_port + 100 + list(SERVICE_MODULES).index(name)

    def metrics_url(self, name: str) -> str:
        return f"http://{self.settings.host}:{self.metrics_port(name)}/metrics"

    @staticmethod
    def service_of(instance: str) -> str:
        """``transcriber-2`` → ``transcriber``; a service's own name stays as it is."""
        base, _, number = instance.rpartition("-")
        return base if number.isdigit() and base in SERVICE_MODULES else instance

    def instances(self) -> list[str]:
        """Every process to run: each available service, then its extra replicas."""
        counts = dict(self.replicas)
        out: list[str] = []
        for name in self.available():
            out += [name, *(f"{name}-{k}" for k in range(2, counts.get(name, 1) + 1))]
        return out

    def process(self, name: str) -> ManagedProcess:
        home = Path(self.settings.stack_dir) / "services" / name
        service = self.service_of(name)
        env = self.env()
        env["CALLSTREAM_SERVICE_NAME"] = service
        if service != "ingest":
            port = self.metrics_port(service) if name == service else 0
            env["CALLSTREAM_METRICS_PORT"] = str(port)
        return ManagedProcess(
            name=name,
            argv=[sys.executable, "-m", SERVICE_MODULES[service]],
            log_path=home / f"{name}.log",
            pid_path=home / f"{name}.pid",
            env=env,
            stop_timeout=40.0,
        )

    def available(self) -> list[str]:
        """Services whose package is installed (the compactor may be absent in a slim image)."""
        import importlib.util

        return [n for n in self.names if importlib.util.find_spec(f"{SERVICE_MODULES[n]}.__main__")]

    def up(self, timeout: float = 90.0) -> dict[str, int]:
        pids = {name: self.process(name).start() for name in self.instances()}
        self.wait_healthy(timeout)
        return pids

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            dead = [n for n in self.instances() if not self.process(n).is_alive()]
            if dead:
                logs = "\n".join(f"--- {n}\n{tail(self.process(n).log_path, 30)}" for n in dead)
                raise ProcessError(f"service(s) exited: {', '.join(dead)}\n{logs}")
            if self.ingest_healthy() and all(self.consumer_ready(n) for n in self.consumers()):
                return
            if time.monotonic() > deadline:
                raise ProcessError("services did not become healthy in time")
            time.sleep(0.5)

    def consumers(self) -> list[str]:
        return [n for n in self.instances() if n != "ingest"]

    def consumer_ready(self, name: str) -> bool:
        """A consumer logs FastStream's "started successfully" once its subscribers run."""
        log = tail(self.process(name).log_path, 400)
        this_run = log.rsplit(f"starting {name}", 1)[-1]
        return "started successfully" in this_run.lower()

    def ingest_healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def down(self) -> list[str]:
        return [n for n in reversed(self.instances()) if self.process(n).stop()]

    def status(self) -> dict[str, str]:
        out = {}
        for name in self.instances():
            proc = self.process(name)
            pid = proc.pid()
            out[name] = f"running (pid {pid})" if pid else "stopped"
        return out


def service_set_from_env(settings: StackSettings | None = None) -> ServiceSet:
    return ServiceSet(
        settings=settings or StackSettings(),
        ingest_port=int(os.environ.get("CALLSTREAM_INGEST_PORT", "8000")),
    )
