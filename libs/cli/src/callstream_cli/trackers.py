"""`callstream trackers ...`: the organisation's keyword and smart trackers, via the API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from callstream_cli.ops import Api, Token, call, console

DEFAULT_API = "http://127.0.0.1:8000"


def register(app: typer.Typer) -> None:
    trackers = typer.Typer(help="Trackers: phrases (or meanings) spotted in every call.")
    app.add_typer(trackers, name="trackers")

    @trackers.command("list")
    def list_trackers(token: Token, api: Api = DEFAULT_API) -> None:
        body = call("GET", api, token, "/v1/trackers")
        table = Table("name", "kind", "threshold", "phrases")
        for t in body["trackers"]:
            threshold = f"{t['threshold']:.2f}" if t["kind"] == "smart" else ""
            table.add_row(t["name"], t["kind"], threshold, "; ".join(t["phrases"]))
        console.print(table)

    @trackers.command("set")
    def set_tracker(
        name: str,
        phrase: Annotated[list[str], typer.Option("--phrase", "-p", help="repeat for more")],
        token: Token,
        kind: Annotated[str, typer.Option(help="keyword | smart")] = "keyword",
        threshold: Annotated[float, typer.Option(help="smart only: min similarity")] = 0.6,
        api: Api = DEFAULT_API,
    ) -> None:
        """Create or replace a tracker (admin)."""
        body = {"kind": kind, "phrases": phrase, "threshold": threshold}
        saved = call("PUT", api, token, f"/v1/trackers/{name}", json=body)
        console.print(f"tracker [bold]{saved['name']}[/] saved ({saved['kind']})")

    @trackers.command("delete")
    def delete_tracker(name: str, token: Token, api: Api = DEFAULT_API) -> None:
        """Delete a tracker (admin)."""
        call("DELETE", api, token, f"/v1/trackers/{name}")
        console.print(f"tracker [bold]{name}[/] deleted")
