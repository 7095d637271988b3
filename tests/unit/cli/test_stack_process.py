"""ManagedProcess: detached start, pidfile, stop by PID, health waiting."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from callstream_cli.stack.process import ManagedProcess, ProcessError, tail

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True);"
    " time.sleep(60)",
]


def _proc(tmp_path: Path, argv: list[str], **kw: object) -> ManagedProcess:
    return ManagedProcess(
        name="t",
        argv=argv,
        log_path=tmp_path / "logs" / "t.log",
        pid_path=tmp_path / "run" / "t.pid",
        **kw,  # type: ignore[arg-type]  # only ManagedProcess's own keywords are passed
    )


def _wait_for_output(proc: ManagedProcess, text: str) -> None:
    """Wait until the child has installed its signal handlers (it says so in its log)."""
    for _ in range(200):
        if text in proc.log_path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never logged")


def test_start_is_idempotent_and_stop_removes_everything(tmp_path: Path) -> None:
    proc = _proc(tmp_path, SLEEPER)
    pid = proc.start()
    try:
        assert proc.is_alive() and proc.pid() == pid
        assert proc.start() == pid  # already running: left alone
        assert os.getsid(pid) == pid  # own session, immune to the terminal's signals
        assert json.loads(proc.pid_path.read_text())["pid"] == pid
    finally:
        assert proc.stop() is True
    assert not proc.is_alive()
    assert not proc.pid_path.exists()
    assert proc.stop() is False


def test_env_cwd_and_log(tmp_path: Path) -> None:
    script = "import os; print(os.environ['GREETING'], os.getcwd(), flush=True)"
    proc = _proc(tmp_path, [sys.executable, "-c", script], env={"GREETING": "hello"}, cwd=tmp_path)
    pid = proc.start()
    os.waitpid(pid, 0)
    assert f"hello {tmp_path}" in proc.log_path.read_text()
    assert not proc.is_alive()


def test_stale_pidfile_is_not_alive(tmp_path: Path) -> None:
    proc = _proc(tmp_path, SLEEPER)
    proc.pid_path.parent.mkdir(parents=True)
    proc.pid_path.write_text(json.dumps({"pid": 2**22 - 3, "start_time": 1}))
    assert proc.pid() is None
    assert proc.stop() is False
    assert not proc.pid_path.exists()


def test_recycled_pid_is_never_ours(tmp_path: Path) -> None:
    """A pidfile naming a live PID with another start time belongs to someone else."""
    proc = _proc(tmp_path, SLEEPER)
    proc.pid_path.parent.mkdir(parents=True)
    proc.pid_path.write_text(json.dumps({"pid": os.getpid(), "start_time": 1}))
    assert proc.pid() is None
    assert proc.stop() is False  # and in particular: this test process was not signalled


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    proc = _proc(tmp_path, STUBBORN, stop_timeout=1.0)
    proc.start()
    _wait_for_output(proc, "up")
    assert proc.stop() is True
    assert not proc.is_alive()


def test_stop_signal_is_configurable(tmp_path: Path) -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, lambda *a: (print('got INT', flush=True), sys.exit(0)))\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = _proc(tmp_path, [sys.executable, "-c", script], stop_signal=signal.SIGINT)
    proc.start()
    _wait_for_output(proc, "ready")
    assert proc.stop() is True
    assert "got INT" in proc.log_path.read_text()


async def test_wait_healthy_returns_once_the_check_passes(tmp_path: Path) -> None:
    proc = _proc(tmp_path, SLEEPER)
    proc.start()
    calls = 0

    async def check() -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("not yet")

    try:
        await proc.wait_healthy(check, wait_seconds=10, interval=0.01)
        assert calls == 3
    finally:
        proc.stop()


async def test_wait_healthy_fails_early_when_the_process_dies(tmp_path: Path) -> None:
    script = "import sys; print('fatal: bad config', flush=True); sys.exit(3)"
    proc = _proc(tmp_path, [sys.executable, "-c", script])
    proc.start()

    async def never() -> None:
        raise ConnectionError("refused")

    with pytest.raises(ProcessError, match="fatal: bad config"):
        await proc.wait_healthy(never, wait_seconds=30, interval=0.05)


async def test_wait_healthy_times_out_with_the_last_error(tmp_path: Path) -> None:
    proc = _proc(tmp_path, SLEEPER)
    proc.start()

    async def never() -> None:
        raise ConnectionError("refused")

    try:
        with pytest.raises(ProcessError, match="refused"):
            await proc.wait_healthy(never, wait_seconds=0.2, interval=0.05)
    finally:
        proc.stop()


def test_missing_executable_is_a_process_error(tmp_path: Path) -> None:
    proc = _proc(tmp_path, [str(tmp_path / "no-such-binary")])
    with pytest.raises(ProcessError, match="cannot start"):
        proc.start()


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(log, 2) == "line 98\nline 99"
    assert tail(tmp_path / "missing.log") == ""
