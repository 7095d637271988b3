"""The Slack app: ``/slack/commands``, ``/slack/events``, ``/slack/interactions`` and the
admin API linking Slack users to callstream users. ``include_slack(app)`` wires it in."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request

from callstream_ingest.slack.web import SlackWeb
from callstream_ingest.state import IngestState


@dataclass
class SlackApp:
    """What the Slack endpoints hold for the life of the process."""

    st: IngestState
    web: SlackWeb
    console_url: str
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` after the answer to Slack (kept referenced until it ends)."""
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def slack_app(request: Request) -> SlackApp:
    found: SlackApp = request.app.state.slack
    return found


def include_slack(app: FastAPI) -> None:
    from callstream_ingest.slack import admin, commands, events, interactions

    st: IngestState = app.state.ingest
    settings = st.settings
    app.state.slack = SlackApp(
        st=st,
        web=SlackWeb(settings),
        console_url=settings.console_base_url or settings.public_base_url,
    )
    for module in (commands, events, interactions, admin):
        app.include_router(module.router)
