"""The commands that keep rows without an API of their own, against the real PostgreSQL:
``callstream alerts add/list`` (the same rule store as the console) and ``callstream
slack link/unlink/users``; each runs in one transaction of its own."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

pytestmark = pytest.mark.stack


def cli(endpoints: Any) -> typer.Typer:
    from callstream_cli import alerts, slack

    app = typer.Typer()
    database_url = endpoints.database_url.get_secret_value()
    alerts.register(app, lambda: database_url)
    slack.register(app, lambda: database_url)
    return app


def test_alert_rules_are_added_once_and_listed(endpoints: Any) -> None:
    app, runner = cli(endpoints), CliRunner()
    name = f"cli-rule-{uuid.uuid4().hex[:6]}"
    rule = ["alerts", "add", name, "--kind", "overall_below", "--threshold", "2"]
    added = runner.invoke(app, rule)
    assert added.exit_code == 0 and "added" in added.output, added.output
    again = runner.invoke(app, rule)
    assert again.exit_code == 0 and "already exists" in again.output
    unknown = runner.invoke(app, ["alerts", "add", f"{name}-x", "--kind", "louder_than"])
    assert unknown.exit_code == 2 and "kind must be one of" in unknown.output
    listed = runner.invoke(app, ["alerts", "list"], terminal_width=200)
    assert listed.exit_code == 0 and listed.output.count(name) == 1, listed.output


def test_a_slack_user_is_linked_once_listed_and_unlinked(endpoints: Any) -> None:
    app, runner = cli(endpoints), CliRunner()
    slack_user = f"U{uuid.uuid4().hex[:10].upper()}"
    link = ["slack", "link", "--slack-user", slack_user, "--role", "admin"]
    assert runner.invoke(app, link).exit_code == 0
    twice = runner.invoke(app, link)
    assert twice.exit_code == 1 and "already linked" in twice.output
    listed = runner.invoke(app, ["slack", "users"], terminal_width=200)
    assert listed.exit_code == 0 and slack_user in listed.output, listed.output
    removed = runner.invoke(app, ["slack", "unlink", slack_user])
    assert removed.exit_code == 0 and "removed 1 link(s)" in removed.output
    assert slack_user not in runner.invoke(app, ["slack", "users"], terminal_width=200).output
