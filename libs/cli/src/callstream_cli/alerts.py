"""Alert rules, stored in PostgreSQL and evaluated by the notifier for every analysed call."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from callstream_cli.database import in_transaction
from callstream_common.alert_rules import RULE_KINDS, add_alert_rule, alert_rules

console = Console()

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "At Risk deal",
        "kind": "status_is",
        "params": {"status": "At Risk", "severity": "critical"},
    },
    {"name": "Weak qualification", "kind": "overall_below", "params": {"threshold": 2.5}},
    {
        "name": "No economic buyer",
        "kind": "dimension_at_most",
        "params": {"dimension": "economic_buyer", "threshold": 1},
    },
]


async def add_rule(database_url: str, name: str, kind: str, params: dict[str, Any]) -> bool:
    """Insert a rule unless one of that name exists; True if it was added."""
    return await in_transaction(
        database_url, lambda session: add_alert_rule(session, name, kind, params)
    )


def ensure_default_rules(database_url: str) -> None:
    for rule in DEFAULT_RULES:
        asyncio.run(add_rule(database_url, rule["name"], rule["kind"], rule["params"]))


def register(app: typer.Typer, database_url: Any) -> None:
    alerts = typer.Typer(help="Alert rules evaluated for every analysed call.")
    app.add_typer(alerts, name="alerts")

    @alerts.command("add")
    def add(
        name: str,
        kind: Annotated[
            str,
            typer.Option(
                help="overall_below | status_is | dimension_at_most | any_dimension_at_most"
            ),
        ],
        threshold: float | None = None,
        status: str | None = None,
        dimension: str | None = None,
        severity: str = "warning",
        channel: str | None = None,
    ) -> None:
        """Add a rule; the notifier skips (and logs) a rule whose parameters do not fit its kind."""
        if kind not in RULE_KINDS:
            raise typer.BadParameter(f"kind must be one of {', '.join(RULE_KINDS)}")
        params = {
            k: v
            for k, v in {
                "threshold": threshold,
                "status": status,
                "dimension": dimension,
                "severity": severity,
                "channel": channel,
            }.items()
            if v is not None
        }
        added = asyncio.run(add_rule(database_url(), name, kind, params))
        console.print("added" if added else f"a rule named {name!r} already exists")

    @alerts.command("list")
    def list_rules() -> None:
        table = Table("name", "kind", "params", "enabled")
        for r in asyncio.run(in_transaction(database_url(), alert_rules)):
            table.add_row(r.name, r.kind, str(r.params), str(r.enabled))
        console.print(table)
