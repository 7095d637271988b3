"""The ``callstream`` command: one Typer app, one sub-app per area."""

from __future__ import annotations

import logging

import typer

from callstream_cli import alerts, asyncapi, dev, lag, ops, org, slack, trackers
from callstream_cli.stack.cli import app as stack_app

app = typer.Typer(help="callstream developer and operator commands.", no_args_is_help=True)


@app.callback()
def _quiet_clients() -> None:
    """Waiting for a broker that is still starting is expected here, not an error to print."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


app.add_typer(stack_app, name="stack")
dev.register(app)
alerts.register(app, dev.database_url)
org.register(app, dev.database_url, dev.redis_url)
slack.register(app, dev.database_url)
ops.register(app)
lag.register(app)
asyncapi.register(app)
trackers.register(app)
dev.register_remote(app)

if __name__ == "__main__":
    app()
