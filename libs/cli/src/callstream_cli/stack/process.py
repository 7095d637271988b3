"""A small process supervisor: detached start, pidfile, stop by PID, health waiting.

The stack runs long-lived servers that must outlive the ``callstream stack up`` command that
started them, so a server is started in its own session (no controlling terminal, not killed
by Ctrl+C in the shell) with its output appended to a log file, and remembered only through a
pidfile. The pidfile also records the kernel's start time of the process, so a PID recycled by
an unrelated process after a crash or a reboot is never mistaken for ours (and never killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ProcessError(RuntimeError):
    """A managed process could not be started, or died or stayed unhealthy."""


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """Return (state, start time in clock ticks) of a live PID from /proc, or None.

    None also covers platforms without /proc, where callers fall back to ``kill(pid, 0)``.
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Children started by this interpreter, kept so that their exit status is collected (no
#: zombies when the same process starts and stops a stack, as the test suite does) and so that
#: no "subprocess is still running" warning is emitted when a Popen object is collected.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _exited(pid: int) -> bool:
    """For a PID whose main thread shows as a zombie: has the whole process exited?

    A zombie main thread is not enough: the JVM's launcher thread exits while the VM's other
    threads keep running (and may still be shutting down). A child of ours is settled, and
    reaped, by ``poll()``, which succeeds only once every thread is gone; for other processes
    the remaining threads are counted.
    """
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return False
        del _CHILDREN[pid]
        return True
    with contextlib.suppress(ChildProcessError, OSError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return True
    try:
        return len(os.listdir(f"/proc/{pid}/task")) <= 1
    except OSError:
        return True


def tail(path: Path, lines: int = 20) -> str:
    """Return the last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


@dataclass(frozen=True)
class ManagedProcess:
    """A server process started detached and tracked through a pidfile.

    ``env`` is laid over the current environment. ``user`` (only honoured when running as
    root) drops privileges in the child, for servers that refuse to run as root (PostgreSQL).
    ``stop_signal`` is the polite stop request; SIGKILL follows after ``stop_timeout``.
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    pid_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 30.0

    # -- state ------------------------------------------------------------------------------

    def _read_pidfile(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.pid_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None

    def pid(self) -> int | None:
        """PID of the running process, or None if it is not running (stale pidfiles count)."""
        record = self._read_pidfile()
        if record is None:
            return None
        pid = int(record["pid"])
        stat = _proc_stat(pid)
        if stat is None:
            has_proc = Path("/proc/self/stat").exists()
            return None if has_proc or not _pid_exists(pid) else pid
        state, started = stat
        if state in ("Z", "X") and _exited(pid):
            return None
        if record.get("start_time") not in (None, started):
            return None  # the PID now belongs to another process
        return pid

    def is_alive(self) -> bool:
        return self.pid() is not None

    # -- control ----------------------------------------------------------------------------

    def start(self) -> int:
        """Start the process unless it already runs; return its PID."""
        running = self.pid()
        if running is not None:
            return running
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        drop_to = self.user if self.user is not None and os.geteuid() == 0 else None
        with self.log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    list(self.argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=env,
                    start_new_session=True,
                    user=drop_to,
                    group=drop_to,
                    extra_groups=[] if drop_to else None,
                    close_fds=True,
                )
            except OSError as exc:
                raise ProcessError(f"{self.name}: cannot start {self.argv[0]}: {exc}") from exc
        _CHILDREN[proc.pid] = proc
        stat = _proc_stat(proc.pid)
        record = {
            "pid": proc.pid,
            "start_time": stat[1] if stat else None,
            "argv": list(self.argv),
        }
        tmp = self.pid_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self.pid_path)
        return proc.pid

    def stop(self) -> bool:
        """Stop the process by PID: ``stop_signal``, wait, then SIGKILL.

        Returns True if a running process was stopped, False if none was running. The pidfile
        is removed in both cases.
        """
        pid = self.pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        self._signal(pid, self.stop_signal)
        if not self._wait_gone(self.stop_timeout):
            self._signal(pid, signal.SIGKILL)
            self._wait_gone(10.0)
        self.pid_path.unlink(missing_ok=True)
        return True

    def _signal(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                return True
            time.sleep(0.1)
        return self.pid() is None

    async def wait_healthy(
        self,
        check: Callable[[], Awaitable[object]],
        wait_seconds: float,
        interval: float = 0.5,
    ) -> None:
        """Await ``check()`` until it succeeds (returns without raising) or ``wait_seconds`` pass.

        Fails early when the process dies, quoting the end of its log, so a crash on startup
        is reported at once with its cause instead of after the whole timeout.
        """
        deadline = time.monotonic() + wait_seconds
        last_error: BaseException | None = None
        while True:
            if not self.is_alive():
                raise ProcessError(
                    f"{self.name} exited during startup; last lines of {self.log_path}:\n"
                    f"{tail(self.log_path)}"
                )
            try:
                await check()
            except Exception as exc:
                last_error = exc
            else:
                return
            if time.monotonic() >= deadline:
                raise ProcessError(
                    f"{self.name} not healthy after {wait_seconds:.0f}s"
                    f" (last error: {last_error!r}); see {self.log_path}"
                )
            await asyncio.sleep(interval)
