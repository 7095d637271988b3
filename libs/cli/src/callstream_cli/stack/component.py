"""The contract every stack component implements, and the status it reports."""

from __future__ import annotations

import abc
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from callstream_cli.stack.process import ManagedProcess
from callstream_cli.stack.settings import StackSettings


class StackError(RuntimeError):
    """The stack (or one of its components) cannot be brought up or is misconfigured."""


@dataclass(frozen=True)
class ComponentStatus:
    """What ``status`` reports for one component."""

    name: str
    product: str
    running: bool
    healthy: bool
    pid: int | None
    version: str | None
    endpoint: str
    detail: str = ""


def port_is_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Component(abc.ABC):
    """One server of the stack: how to prepare, start, probe and provision it.

    Preparation (downloads, config files, data directory initialisation) is blocking and
    idempotent; probing and provisioning are async so components are checked in parallel.
    """

    name: ClassVar[str]
    product: ClassVar[str]
    stop_signal: ClassVar[int] = signal.SIGTERM
    stop_timeout: ClassVar[float] = 30.0

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings

    @property
    def home(self) -> Path:
        """This component's folder inside the stack folder (config and data)."""
        return self.settings.component_dir(self.name)

    @property
    def log_path(self) -> Path:
        """The log ``callstream stack logs <name>`` shows."""
        return self.settings.logs_dir / f"{self.name}.log"

    @property
    def output_path(self) -> Path:
        """Where the process's stdout/stderr go; the main log unless it writes its own."""
        return self.log_path

    @property
    def pid_path(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def run_as(self) -> str | None:
        """User to run the server as when we are root (None: the current user)."""
        return None

    @abc.abstractmethod
    def ports(self) -> list[int]:
        """Every TCP port this component listens on."""

    @abc.abstractmethod
    def endpoint(self) -> str:
        """The address clients use, for display."""

    @abc.abstractmethod
    def prepare(self) -> None:
        """Download, render configuration and initialise data; blocking and idempotent."""

    @abc.abstractmethod
    def argv(self) -> list[str]:
        """Command line of the server (valid after ``prepare``)."""

    def env(self) -> dict[str, str]:
        """Extra environment variables of the server."""
        return {}

    @abc.abstractmethod
    async def ready(self) -> None:
        """Return when the server answers requests; raise otherwise (used while starting)."""

    async def provision(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Create what clients expect (topics, role, database, bucket); idempotent."""

    @abc.abstractmethod
    async def version(self) -> str:
        """The product and version of the running server, asked from the server if possible."""

    async def check(self) -> str:
        """Full health check as clients see it; returns the version (used by ``status``)."""
        await self.ready()
        return await self.version()

    def process(self) -> ManagedProcess:
        return ManagedProcess(
            name=self.name,
            argv=self.argv(),
            env=self.env(),
            cwd=self.home,
            log_path=self.output_path,
            pid_path=self.pid_path,
            user=self.run_as,
            stop_signal=self.stop_signal,
            stop_timeout=self.stop_timeout,
        )

    def tracked_process(self) -> ManagedProcess:
        """The process as known from the pidfile only (no preparation or downloads needed)."""
        return ManagedProcess(
            name=self.name,
            argv=[],
            log_path=self.output_path,
            pid_path=self.pid_path,
            stop_signal=self.stop_signal,
            stop_timeout=self.stop_timeout,
        )

    def busy_ports(self) -> list[int]:
        """Ports of this component already taken by someone (checked before starting)."""
        return [port for port in self.ports() if port_is_open(self.settings.host, port)]
