"""``callstream teams|reps|users``: the organisation without SQL (the same functions as
the admin API). A new user's token is printed once; only its hash is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_cli.database import in_transaction
from callstream_common import org
from callstream_common.db.models import Role

console = Console()
T = TypeVar("T")


def run_change(
    database_url: str, redis_url: str | None, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """``work`` in one transaction; then the read cache's organisation version moves on
    (best effort: a cache that cannot be told expires the old answers by their TTL)."""

    async def go() -> T:
        result = await in_transaction(database_url, work)
        if redis_url:
            from redis.asyncio import Redis

            client = Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
            try:
                await client.incr(org.ORG_VERSION_KEY)
            except Exception:  # noqa: S110 - the cache is optional; the change is committed
                pass
            finally:
                await client.aclose()
        return result

    try:
        return asyncio.run(go())
    except org.OrgError as exc:
        console.print(f"[red]{exc.code}[/]: {exc}")
        raise typer.Exit(1) from exc
    except ValidationError as exc:
        console.print(f"[red]invalid[/]: {exc}")
        raise typer.Exit(2) from exc


def table(columns: list[str], rows: list[list[Any]]) -> None:
    out = Table(*columns)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    console.print(out)


def register(
    app: typer.Typer, database_url: Callable[[], str], redis_url: Callable[[], str]
) -> None:
    teams = typer.Typer(help="Teams (a manager sees their team's calls).")
    reps = typer.Typer(help="Sales reps, each in a team.")
    users = typer.Typer(help="Users and their API tokens (shown once, stored hashed).")
    app.add_typer(teams, name="teams")
    app.add_typer(reps, name="reps")
    app.add_typer(users, name="users")

    @teams.command("add")
    def add_team(team_id: str, name: Annotated[str | None, typer.Option()] = None) -> None:
        created = run_change(
            database_url(),
            redis_url(),
            lambda s: org.add_team(s, org.TeamIn(id=team_id, name=name or team_id)),
        )
        console.print(f"team {created.id} added")

    @teams.command("list")
    def list_teams() -> None:
        rows = run_change(database_url(), None, org.list_teams)
        table(
            ["id", "name", "reps", "created"], [[t.id, t.name, t.reps, t.created_at] for t in rows]
        )

    @reps.command("add")
    def add_rep(
        rep_id: str,
        name: Annotated[str | None, typer.Option()] = None,
        team: Annotated[str | None, typer.Option(help="team id")] = None,
        email: Annotated[str | None, typer.Option()] = None,
    ) -> None:
        rep = org.RepIn(id=rep_id, name=name or rep_id, team_id=team, email=email)
        run_change(database_url(), redis_url(), lambda s: org.add_rep(s, rep))
        console.print(f"rep {rep_id} added" + (f" to team {team}" if team else ""))

    @reps.command("move")
    def move_rep(rep_id: str, team: Annotated[str, typer.Option(help="new team id")]) -> None:
        run_change(
            database_url(),
            redis_url(),
            lambda s: org.change_rep(s, rep_id, org.RepChange(team_id=team)),
        )
        console.print(f"rep {rep_id} moved to team {team}")

    @reps.command("list")
    def list_reps(team: Annotated[str | None, typer.Option()] = None) -> None:
        rows = run_change(database_url(), None, lambda s: org.list_reps(s, team))
        table(
            ["id", "name", "team", "email", "active"],
            [[r.id, r.name, r.team_id, r.email, r.active] for r in rows],
        )

    @users.command("add")
    def add_user(
        name: str,
        role: Annotated[Role, typer.Option(help="user | manager | admin")],
        rep: Annotated[str | None, typer.Option(help="the rep whose calls a user sees")] = None,
        team: Annotated[str | None, typer.Option(help="the team a manager sees")] = None,
        expires_in_days: Annotated[int | None, typer.Option()] = None,
    ) -> None:
        """Create a user and print their token (the only time it is shown)."""
        user = org.UserIn(
            name=name, role=role, rep_id=rep, team_id=team, expires_in_days=expires_in_days
        )
        created = run_change(database_url(), redis_url(), lambda s: org.add_user(s, user))
        console.print(f"user {created.name} ({created.role.value}) id {created.id}")
        if created.expires_at:
            console.print(f"expires at {created.expires_at.isoformat()}")
        console.print("token (shown once, store it now):")
        print(created.token)

    @users.command("list")
    def list_users(
        all_: Annotated[bool, typer.Option("--all", help="include revoked")] = False,
    ) -> None:
        rows = run_change(database_url(), None, lambda s: org.list_users(s, all_))
        table(
            ["id", "name", "role", "rep", "team", "created", "expires", "revoked"],
            [
                [
                    u.id,
                    u.name,
                    u.role.value,
                    u.rep_id,
                    u.team_id,
                    u.created_at,
                    u.expires_at,
                    u.revoked_at,
                ]
                for u in rows
            ],
        )

    @users.command("revoke")
    def revoke(name_or_id: str) -> None:
        """Revoke a credential by id, or every live credential with that name."""
        rows = run_change(database_url(), redis_url(), lambda s: org.revoke_user(s, name_or_id))
        for u in rows:
            console.print(f"revoked {u.name} ({u.id})")
