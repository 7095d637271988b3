"""``callstream slack link/unlink/users``: which callstream user a Slack user is.

The same rows as ingest's ``/v1/slack/users`` admin API (``slack_user_links``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_cli.database import in_transaction
from callstream_common.db.models import Role
from callstream_common.db.slack_models import SlackUserLink

console = Console()


async def link(url: str, new: SlackUserLink) -> bool:
    """False when the Slack user (or e-mail) is already linked."""

    async def add(session: AsyncSession) -> None:
        session.add(new)

    try:
        await in_transaction(url, add)
    except IntegrityError:
        return False
    return True


async def unlink(url: str, key: str) -> int:
    async def remove(session: AsyncSession) -> int:
        result = await session.execute(
            delete(SlackUserLink).where(
                or_(
                    SlackUserLink.slack_user_id == key,  # type: ignore[arg-type]
                    SlackUserLink.email == key.lower(),  # type: ignore[arg-type]
                )
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    return await in_transaction(url, remove)


async def links(url: str) -> list[SlackUserLink]:
    async def rows(session: AsyncSession) -> list[SlackUserLink]:
        return list((await session.execute(select(SlackUserLink))).scalars())

    return await in_transaction(url, rows)


def register(app: typer.Typer, database_url: Callable[[], str]) -> None:
    slack = typer.Typer(help="Slack users and the callstream users they act as.")
    app.add_typer(slack, name="slack")

    @slack.command("link")
    def link_cmd(
        slack_user: Annotated[str | None, typer.Option(help="Slack user id (U…)")] = None,
        email: Annotated[str | None, typer.Option(help="e-mail as Slack reports it")] = None,
        role: Annotated[Role, typer.Option()] = Role.USER,
        rep: Annotated[str | None, typer.Option(help="rep id (required for users)")] = None,
        team: Annotated[str | None, typer.Option(help="team id (required for managers)")] = None,
    ) -> None:
        """Link a Slack user (by id or e-mail) to a role and rep/team scope."""
        if (slack_user is None) == (email is None):
            raise typer.BadParameter("give exactly one of --slack-user or --email")
        if role == Role.USER and rep is None:
            raise typer.BadParameter("a user needs --rep")
        if role == Role.MANAGER and team is None:
            raise typer.BadParameter("a manager needs --team")
        row = SlackUserLink(
            slack_user_id=slack_user,
            email=email.lower() if email else None,
            role=role,
            rep_id=rep,
            team_id=team,
        )
        added = asyncio.run(link(database_url(), row))
        console.print("linked" if added else "that Slack user or e-mail is already linked")
        if not added:
            raise typer.Exit(1)

    @slack.command("unlink")
    def unlink_cmd(key: Annotated[str, typer.Argument(help="Slack user id or e-mail")]) -> None:
        """Remove the link of a Slack user id or e-mail."""
        console.print(f"removed {asyncio.run(unlink(database_url(), key))} link(s)")

    @slack.command("users")
    def users_cmd() -> None:
        """List the links."""
        table = Table("slack user", "e-mail", "role", "rep", "team")
        for row in asyncio.run(links(database_url())):
            table.add_row(
                row.slack_user_id or "",
                row.email or "",
                row.role,
                row.rep_id or "",
                row.team_id or "",
            )
        console.print(table)
