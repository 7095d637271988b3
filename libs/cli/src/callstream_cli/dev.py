"""Commands around the running system: the whole local system up/down, database
migrations, credentials, uploads and the sample call."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from callstream_cli.alerts import ensure_default_rules
from callstream_cli.sample import SAMPLE_CALL, synthesize
from callstream_cli.services import service_set_from_env
from callstream_cli.stack.endpoints import StackEndpoints
from callstream_cli.stack.settings import StackSettings

console = Console()
TERMINAL = ("completed", "failed")


def database_url(settings: StackSettings | None = None) -> str:
    return StackEndpoints.from_settings(settings or StackSettings()).database_url.get_secret_value()


def redis_url(settings: StackSettings | None = None) -> str:
    return StackEndpoints.from_settings(settings or StackSettings()).redis_url


def migrate(url: str) -> None:
    from callstream_common.db.migrate import upgrade

    upgrade(url)


def ensure_dev_credential(settings: StackSettings) -> str:
    """The development admin token, created once and kept in the stack folder."""
    path = Path(settings.stack_dir) / "dev-token"
    if path.exists():
        return path.read_text().strip()
    from sqlalchemy.ext.asyncio import create_async_engine

    from callstream_common.credentials import create_credential
    from callstream_common.db.engine import make_sessionmaker
    from callstream_common.db.models import Rep, Role

    async def create() -> str:
        engine = create_async_engine(database_url(settings))
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            if await session.get(Rep, "rep-sarah") is None:
                session.add(Rep(id="rep-sarah", name="Sarah (sample rep)", team_id="team-east"))
            token = await create_credential(session, "dev-admin", Role.ADMIN, rep_id="rep-sarah")
        await engine.dispose()
        return token

    token = asyncio.run(create())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def upload(base_url: str, token: str, audio: Path, fields: dict[str, str]) -> dict[str, Any]:
    with audio.open("rb") as fh:
        response = httpx.post(
            f"{base_url}/v1/conversations",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (audio.name, fh, "application/octet-stream")},
            data=fields,
            timeout=120,
        )
    if response.status_code != 202:
        raise typer.BadParameter(f"upload failed: {response.status_code} {response.text}")
    return dict(response.json())


def wait_for(base_url: str, token: str, conversation_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        while True:
            body: dict[str, Any] = client.get(
                f"{base_url}/v1/conversations/{conversation_id}"
            ).json()
            if body.get("status") in TERMINAL or time.monotonic() > deadline:
                return body
            time.sleep(0.5)


def print_scorecard(conv: dict[str, Any]) -> None:
    console.print(f"[bold]conversation[/] {conv['id']}  status: [bold]{conv['status']}[/]")
    if conv.get("failure_reason"):
        console.print(f"[red]failure:[/] {conv['failure_reason']}")
    analysis = conv.get("analysis")
    if analysis:
        table = Table(
            title=f"MEDDIC scorecard — overall {analysis['overall_score']:.1f} "
            f"({analysis['qualification_status']})"
        )
        table.add_column("dimension")
        table.add_column("score", justify="right")
        table.add_column("evidence / gap")
        for dim in analysis["dimensions"]:
            evidence = dim.get("evidence") or []
            note = (
                f"“{evidence[0]['quote']}” @{evidence[0].get('start') or 0:.0f}s"
                if evidence
                else (dim.get("gaps") or [""])[0]
            )
            table.add_row(dim["dimension"], str(dim["score"]), note)
        console.print(table)
        for step in analysis.get("next_steps", [])[:3]:
            console.print(f"  next step ({step['priority']}): {step['action']}")
        for risk in analysis.get("risks", [])[:3]:
            console.print(f"  risk: {risk['description']}")
    timings = conv.get("timings") or {}
    if timings:
        console.print(
            "stage seconds: "
            + ", ".join(f"{k}={v.get('seconds', '?')}" for k, v in timings.items())
        )
    if conv.get("trace_url"):
        console.print(f"trace: {conv['trace_url']}")


def register(app: typer.Typer) -> None:
    @app.command("up")
    def up(
        sample: Annotated[bool, typer.Option(help="process the sample call")] = True,
    ) -> None:
        """Bring up the stack, apply migrations, start all services, process a sample call."""
        from callstream_cli.stack.manager import up as stack_up

        settings = StackSettings()
        started = time.monotonic()
        from callstream_common.topics import all_topics

        stack_up(settings, all_topics())
        migrate(database_url(settings))
        ensure_default_rules(database_url(settings))
        token = ensure_dev_credential(settings)
        services = service_set_from_env(settings)
        services.up()
        console.print(
            f"[green]services up[/] in {time.monotonic() - started:.1f}s — "
            f"API {services.base_url}  (token: export CALLSTREAM_TOKEN={token})"
        )
        console.print(f"tracing UI: {StackEndpoints.from_settings(settings).zipkin_ui_url}")
        console.print(
            "metrics: "
            + "  ".join(f"{n} {services.metrics_url(n)}" for n in services.available())
            + f"  · events: {services.base_url}/asyncapi · lag: callstream lag"
        )
        console.print(
            f"web console: {services.base_url}/console/ (sign in with the token above); "
            f"API docs: {services.base_url}/docs"
        )
        if sample:
            run_sample(services.base_url, token, settings)

    @app.command("down")
    def down() -> None:
        """Stop the services and the stack."""
        from callstream_cli.stack.manager import down as stack_down

        settings = StackSettings()
        stopped = service_set_from_env(settings).down()
        console.print(f"stopped services: {', '.join(stopped) or 'none'}")
        stack_down(settings)

    @app.command("db-upgrade")
    def db_upgrade() -> None:
        """Apply database migrations to the configured (or local) database."""
        migrate(database_url())
        console.print("migrations applied")

    @app.command("demo")
    def demo() -> None:
        """Synthesize the sample call, upload it and print its scorecard."""
        settings = StackSettings()
        run_sample(
            service_set_from_env(settings).base_url, ensure_dev_credential(settings), settings
        )

    @app.command("upload")
    def upload_cmd(
        audio: Path,
        opportunity: Annotated[str, typer.Option()],
        token: Annotated[str, typer.Option(envvar="CALLSTREAM_TOKEN")],
        rep: Annotated[str | None, typer.Option()] = None,
        title: Annotated[str | None, typer.Option()] = None,
        wait: bool = True,
        api: Annotated[str, typer.Option(envvar="CALLSTREAM_API")] = "http://127.0.0.1:8000",
    ) -> None:
        """Upload a recording and (by default) wait for its scorecard."""
        fields = {"opportunity_name": opportunity}
        if rep:
            fields["rep_id"] = rep
        if title:
            fields["title"] = title
        accepted = upload(api, token, audio, fields)
        console.print(json.dumps(accepted))
        if wait:
            print_scorecard(wait_for(api, token, accepted["id"], 900))


def run_sample(base_url: str, token: str, settings: StackSettings) -> None:
    audio = synthesize(SAMPLE_CALL, Path(settings.stack_dir) / "samples" / "sample-call.wav")
    started = time.monotonic()
    accepted = upload(
        base_url,
        token,
        audio,
        {
            "opportunity_name": "Northwind Logistics — fleet analytics",
            "rep_id": "rep-sarah",
            "company_name": "Northwind Logistics",
            "title": "Discovery call (sample)",
        },
    )
    console.print(
        f"uploaded sample call → {accepted['id']} (202 in {time.monotonic() - started:.2f}s)"
    )
    conv = wait_for(base_url, token, accepted["id"], 600)
    console.print(f"end to end: {time.monotonic() - started:.1f}s")
    print_scorecard(conv)
    if conv["status"] != "completed":
        raise typer.Exit(1)


def register_remote(app: typer.Typer) -> None:
    @app.command("init-remote")
    def init_remote(
        replication_factor: Annotated[
            int, typer.Option(help="Replicas of each new topic (3 on managed clusters).")
        ] = 1,
    ) -> None:
        """Prepare configured (managed) infrastructure: migrations, bucket, topics."""
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import TopicAlreadyExistsError
        from faststream.kafka.security import parse_security

        from callstream_common.db.migrate import upgrade
        from callstream_common.kafka import broker_security
        from callstream_common.objectstore import ObjectStore
        from callstream_common.settings import CommonSettings
        from callstream_common.topics import all_topics

        settings = CommonSettings()
        upgrade(settings.database_url.get_secret_value())
        ObjectStore(settings).ensure_bucket()

        async def topics() -> None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap_servers,
                **parse_security(broker_security(settings)),
            )
            await admin.start()
            try:
                existing = set(await admin.list_topics())
                new = [
                    NewTopic(
                        t.name,
                        t.partitions,
                        replication_factor,
                        topic_configs={"retention.ms": str(t.retention_ms)}
                        if t.retention_ms
                        else None,
                    )
                    for t in all_topics()
                    if t.name not in existing
                ]
                if new:
                    try:
                        await admin.create_topics(new)
                    except TopicAlreadyExistsError:
                        pass
            finally:
                await admin.close()

        asyncio.run(topics())
        console.print("database migrated, bucket and topics ready")
