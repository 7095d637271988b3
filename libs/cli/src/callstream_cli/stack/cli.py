"""``callstream stack up|down|status|logs|env``."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from callstream_cli.stack.component import StackError
from callstream_cli.stack.endpoints import StackEndpoints, export_lines
from callstream_cli.stack.manager import (
    COMPONENT_NAMES,
    clean_async,
    component,
    down_async,
    start_components,
    status_async,
)
from callstream_cli.stack.process import tail
from callstream_cli.stack.settings import StackSettings

app = typer.Typer(
    help="Run the local stack (Kafka, PostgreSQL, S3, Redis, Zipkin) as local processes.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _quiet_clients() -> None:
    """Run the local stack (Kafka, PostgreSQL, S3, Redis, Zipkin) as local processes."""
    # While Kafka boots, every refused connection of the probe would be logged by aiokafka.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def declared_topics() -> list[Any]:
    """The topics every deployment needs, from ``callstream_common.topics``.

    Read from its ``all_topics()`` (or an ``ALL_TOPICS`` sequence). The stack works without
    that module (no topics are pre-created then); any other import error is a real bug and
    propagates.
    """
    try:
        module = importlib.import_module("callstream_common.topics")
    except ModuleNotFoundError as exc:
        if exc.name in ("callstream_common.topics", "callstream_common"):
            return []
        raise
    factory = getattr(module, "all_topics", None)
    if callable(factory):
        return list(factory())
    return list(getattr(module, "ALL_TOPICS", []))


def _masked_database_url(endpoints: StackEndpoints, settings: StackSettings) -> str:
    url = endpoints.database_url.get_secret_value()
    password = settings.postgres_password.get_secret_value()
    return url.replace(f":{password}@", ":***@", 1) if password else url


def _print_endpoints(settings: StackSettings) -> None:
    endpoints = StackEndpoints.from_settings(settings)
    table = Table(title="Endpoints", show_lines=False)
    table.add_column("What")
    table.add_column("Address")
    table.add_row("Kafka bootstrap", endpoints.kafka_bootstrap)
    table.add_row("PostgreSQL", _masked_database_url(endpoints, settings))
    table.add_row("S3 endpoint", f"http://{endpoints.s3_endpoint}  bucket={endpoints.s3_bucket}")
    table.add_row("Redis", endpoints.redis_url)
    table.add_row("Zipkin UI", endpoints.zipkin_ui_url)
    table.add_row("Zipkin spans", endpoints.zipkin_spans_url)
    table.add_row("SeaweedFS filer UI", f"http://{settings.host}:{settings.weed_filer_port}/")
    table.add_row("SeaweedFS master UI", f"http://{settings.host}:{settings.weed_master_port}/")
    console.print(table)
    console.print('Secrets and service variables: [bold]eval "$(callstream stack env)"[/bold]')


@app.command()
def up(
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for each component's health.")
    ] = None,
) -> None:
    """Start every component that is not running yet and wait until all are healthy."""
    settings = StackSettings()
    if timeout is not None:
        settings = settings.model_copy(update={"health_timeout": timeout})
    began = time.monotonic()
    with console.status("Bringing the stack up (first run downloads Kafka and Zipkin)..."):
        try:
            outcomes = asyncio.run(start_components(settings, declared_topics()))
        except StackError as exc:
            err_console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
    table = Table(title=f"Stack up in {time.monotonic() - began:.1f}s ({settings.stack_dir})")
    for column in ("Component", "Product", "Endpoint", "State", "Seconds"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.name, o.product, o.endpoint, o.action, f"{o.seconds:.1f}")
    console.print(table)
    _print_endpoints(settings)


@app.command()
def down() -> None:
    """Stop every component this stack started (by PID)."""
    settings = StackSettings()
    stopped = asyncio.run(down_async(settings))
    for name, was_running in stopped.items():
        console.print(f"{name}: {'stopped' if was_running else 'not running'}")


@app.command()
def clean() -> None:
    """Stop the stack and delete its data: the stack folder and its PostgreSQL folder."""
    settings = StackSettings()
    removed = asyncio.run(clean_async(settings))
    for path in removed:
        console.print(f"removed {path}")
    if not removed:
        console.print("nothing to remove")


@app.command()
def status() -> None:
    """Show each component's health and version; exit 1 if any is unhealthy."""
    settings = StackSettings()
    statuses = asyncio.run(status_async(settings))
    table = Table(title=f"Stack status ({settings.stack_dir})")
    for column in ("Component", "Health", "Version", "PID", "Endpoint", "Detail"):
        table.add_column(column)
    for s in statuses:
        health = (
            "[green]healthy[/green]"
            if s.healthy
            else ("[red]unhealthy[/red]" if s.running else "[yellow]stopped[/yellow]")
        )
        table.add_row(s.name, health, s.version or "", str(s.pid or ""), s.endpoint, s.detail[:120])
    console.print(table)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)


def _follow(path: Path) -> None:
    position = path.stat().st_size if path.exists() else 0
    try:
        while True:
            if path.exists():
                size = path.stat().st_size
                if size < position:  # rotated or truncated
                    position = 0
                if size > position:
                    with path.open("rb") as fh:
                        fh.seek(position)
                        chunk = fh.read()
                    position += len(chunk)
                    console.out(chunk.decode("utf-8", errors="replace"), end="", highlight=False)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


@app.command()
def logs(
    name: Annotated[
        str | None, typer.Argument(help=f"One of: {', '.join(COMPONENT_NAMES)} (default all).")
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines to show.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
) -> None:
    """Show the end of a component's log (or of every component's)."""
    settings = StackSettings()
    names = [name] if name else list(COMPONENT_NAMES)
    try:
        comps = [component(settings, n) for n in names]
    except StackError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    for comp in comps:
        if len(comps) > 1:
            console.rule(f"{comp.name} ({comp.log_path})")
        text = tail(comp.log_path, lines)
        console.out(text or f"(no log yet at {comp.log_path})", highlight=False)
    if follow:
        if len(comps) != 1:
            err_console.print("--follow needs one component")
            raise typer.Exit(2)
        _follow(comps[0].log_path)


@app.command()
def env() -> None:
    """Print the services' environment for this stack as ``export K=V`` lines."""
    endpoints = StackEndpoints.from_settings(StackSettings())
    typer.echo(export_lines(endpoints.service_env()))
