"""The ``callstream stack`` commands that need no running server."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from callstream_cli.main import app
from callstream_cli.stack.cli import declared_topics


@pytest.fixture
def stack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CALLSTREAM_STACK_STACK_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_logs_shows_the_end_of_one_component_log(stack_dir: Path) -> None:
    (stack_dir / "logs").mkdir()
    (stack_dir / "logs" / "redis.log").write_text("one\ntwo\nthree\n")
    result = CliRunner().invoke(app, ["stack", "logs", "redis", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["two", "three"]


def test_logs_of_every_component_says_when_there_is_none(stack_dir: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "logs"])
    assert result.exit_code == 0, result.output
    for name in ("kafka", "postgres", "s3", "redis", "zipkin"):
        assert f"{name} (" in result.output
    assert result.output.count("no log yet") == 5


def test_logs_of_an_unknown_component_fails(stack_dir: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "logs", "mongodb"])
    assert result.exit_code == 2


def test_status_of_a_stopped_stack_exits_non_zero(stack_dir: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "status"])
    assert result.exit_code == 1
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert sum("stopped" in row for row in rows) == 5


def test_down_of_a_stopped_stack_is_harmless(stack_dir: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "down"])
    assert result.exit_code == 0, result.output
    assert result.output.count("not running") == 5


def test_declared_topics_come_from_common() -> None:
    names = {getattr(t, "name", None) for t in declared_topics()}
    assert "calls.uploaded" in names
