"""`callstream dlq ...` and `callstream jobs status`: the ops API from the terminal."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

console = Console()
Api = Annotated[str, typer.Option(envvar="CALLSTREAM_API", help="ingest base URL")]
Token = Annotated[str, typer.Option(envvar="CALLSTREAM_TOKEN", help="bearer token")]


def call(method: str, api: str, token: str, path: str, **kw: Any) -> Any:
    response = httpx.request(
        method, f"{api}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw
    )
    if response.status_code >= 400:
        console.print(f"[red]{response.status_code}[/] {response.text}")
        raise typer.Exit(1)
    return response.json() if response.content else None


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(help="The shared dead-letter queue.")
    jobs = typer.Typer(help="Pipeline job status.")
    app.add_typer(dlq, name="dlq")
    app.add_typer(jobs, name="jobs")

    @dlq.command("list")
    def list_entries(
        token: Token,
        api: Api = "http://127.0.0.1:8000",
        stage: str | None = None,
        error_class: str | None = None,
        status: str | None = "new",
        since: str | None = None,
        limit: int = 50,
    ) -> None:
        params = {
            k: v
            for k, v in {
                "stage": stage,
                "error_class": error_class,
                "status": status,
                "since": since,
                "limit": limit,
            }.items()
            if v is not None
        }
        body = call("GET", api, token, "/v1/ops/dlq", params=params)
        table = Table("id", "stage", "error", "attempts", "conversation", "created")
        for e in body["entries"]:
            table.add_row(
                e["id"],
                e["stage"],
                e["error_message"][:60],
                str(e["attempts"]),
                e["conversation_id"] or "",
                e["created_at"][:19],
            )
        console.print(table)

    @dlq.command("show")
    def show(entry_id: str, token: Token, api: Api = "http://127.0.0.1:8000") -> None:
        console.print_json(json.dumps(call("GET", api, token, f"/v1/ops/dlq/{entry_id}")))

    @dlq.command("replay")
    def replay(
        entry_id: str,
        token: Token,
        api: Api = "http://127.0.0.1:8000",
        payload: Annotated[str | None, typer.Option(help="edited event JSON")] = None,
    ) -> None:
        body = {"payload": json.loads(payload)} if payload else None
        console.print(call("POST", api, token, f"/v1/ops/dlq/{entry_id}/replay", json=body))

    @dlq.command("discard")
    def discard(entry_id: str, token: Token, api: Api = "http://127.0.0.1:8000") -> None:
        console.print(call("POST", api, token, f"/v1/ops/dlq/{entry_id}/discard"))

    @dlq.command("status")
    def status(token: Token, api: Api = "http://127.0.0.1:8000") -> None:
        console.print_json(json.dumps(call("GET", api, token, "/v1/ops/dlq/status")))

    @jobs.command("status")
    def job_status(token: Token, api: Api = "http://127.0.0.1:8000") -> None:
        console.print_json(json.dumps(call("GET", api, token, "/v1/ops/jobs/status")))
