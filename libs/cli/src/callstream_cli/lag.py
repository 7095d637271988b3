"""``callstream lag``: how far behind each stage's consumer group is, per partition."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from callstream_common.lag import LagReader, PartitionLag, lag_by_group
from callstream_common.settings import CommonSettings

console = Console()


async def read_lag(settings: CommonSettings, groups: list[str]) -> list[PartitionLag]:
    async with LagReader(settings) as reader:
        return await reader.read(groups or await reader.groups())


def register(app: typer.Typer) -> None:
    @app.command()
    def lag(
        group: Annotated[
            list[str] | None, typer.Option(help="Only these consumer groups (repeatable).")
        ] = None,
        bootstrap: Annotated[
            str | None,
            typer.Option(
                help="Kafka bootstrap servers (default: CALLSTREAM_KAFKA_BOOTSTRAP_SERVERS)."
            ),
        ] = None,
        partitions: Annotated[bool, typer.Option(help="One row per partition.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Rows as JSON.")] = False,
    ) -> None:
        """Consumer lag of every stage (consumer group): records not yet committed."""
        settings = CommonSettings()
        if bootstrap:
            settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
        rows = asyncio.run(read_lag(settings, list(group or [])))
        if as_json:
            typer.echo(
                json.dumps(
                    [
                        {
                            "group": r.group,
                            "topic": r.topic,
                            "partition": r.partition,
                            "committed": r.committed,
                            "start": r.start,
                            "end": r.end,
                            "lag": r.lag,
                        }
                        for r in rows
                    ]
                )
            )
            return
        if partitions:
            table = Table(title="Consumer lag per partition")
            for column in ("Group", "Topic", "Partition", "Committed", "End", "Lag"):
                table.add_column(column)
            for r in rows:
                committed = "-" if r.committed is None else str(r.committed)
                table.add_row(r.group, r.topic, str(r.partition), committed, str(r.end), str(r.lag))
        else:
            table = Table(title="Consumer lag per stage (consumer group)")
            for column in ("Group", "Topics", "Lag"):
                table.add_column(column)
            for name, total in lag_by_group(rows).items():
                topic_names = sorted({r.topic for r in rows if r.group == name})
                table.add_row(name, ", ".join(topic_names), str(total))
        console.print(table)
