"""Wiring of the ingest HTTP service: FastAPI plus FastStream's Kafka router."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream.kafka.fastapi import KafkaRouter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from callstream_common import producer_recovery
from callstream_common.db.engine import make_engine, make_sessionmaker
from callstream_common.kafka import broker_options
from callstream_common.logs import setup_logging
from callstream_common.objectstore import ObjectStore
from callstream_common.outbox import run_relay
from callstream_common.settings import VERSION
from callstream_common.telemetry import setup_telemetry, shutdown_telemetry
from callstream_ingest.asyncapi.api import asyncapi_router
from callstream_ingest.auth import Authenticator
from callstream_ingest.cache.invalidation import (
    RecentCommits,
    asyncpg_dsn,
    listen_for_changes,
    subscribe_events,
)
from callstream_ingest.cache.store import build_read_cache
from callstream_ingest.compaction.api import compaction_router
from callstream_ingest.console import install_console
from callstream_ingest.edge import EdgeMiddleware
from callstream_ingest.errors import install_error_handlers
from callstream_ingest.health import health_router
from callstream_ingest.metrics.api import HttpMetricsMiddleware, metrics_router
from callstream_ingest.openapi import install_openapi
from callstream_ingest.ops.api import ops_router
from callstream_ingest.ops.cache import cache_router
from callstream_ingest.org.api import admin_router
from callstream_ingest.read.analytics import analytics_router
from callstream_ingest.read.api import read_router
from callstream_ingest.read.opportunities import opportunities_router
from callstream_ingest.settings import IngestSettings
from callstream_ingest.slack import include_slack
from callstream_ingest.state import IngestState
from callstream_ingest.trackers.api import trackers_router
from callstream_ingest.upload.api import upload_router


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    setup_logging(settings.service_name, settings.log_level, settings.log_json)
    setup_telemetry(settings.service_name)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    kafka = KafkaRouter(**broker_options(settings), include_in_schema=False)
    producer_recovery.install(kafka.broker)
    read_cache = build_read_cache(settings)
    commits = RecentCommits()
    subscribe_events(kafka, read_cache, sessions, commits)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with kafka.lifespan_context(app):
            relay = asyncio.create_task(
                run_relay(
                    sessions,
                    kafka.broker,
                    settings.outbox_relay_after_seconds,
                    settings.outbox_relay_interval_seconds,
                ),
                name="outbox-relay",
            )
            await read_cache.start()
            listener = asyncio.create_task(
                listen_for_changes(
                    asyncpg_dsn(settings.database_url.get_secret_value()), read_cache, commits
                ),
                name="read-cache-listener",
            )
            # What start-up allocated (~200k objects: modules, models, clients) lives as
            # long as the process. Frozen, a full collection walks only what requests
            # left behind instead of stopping the event loop for ~150 ms.
            gc.freeze()
            yield
            relay.cancel()
            listener.cancel()
            await app.state.ingest.background.finish()
        await read_cache.close()
        await engine.dispose()
        shutdown_telemetry()

    app = FastAPI(
        title="callstream ingest", version=VERSION, lifespan=lifespan, redirect_slashes=False
    )
    app.state.ingest = IngestState(
        settings=settings,
        sessions=sessions,
        store=ObjectStore(settings),
        broker=kafka.broker,
        auth=Authenticator(
            sessions,
            cache_ttl=settings.auth_cache_ttl_seconds,
            cache_size=settings.auth_cache_max_entries,
            failure_limit=settings.auth_failure_limit,
            failure_window=settings.auth_failure_window_seconds,
        ),
    )
    app.state.read_cache = read_cache
    install_error_handlers(app)
    app.include_router(upload_router)
    app.include_router(read_router)
    app.include_router(health_router)
    app.include_router(opportunities_router)
    app.include_router(analytics_router)
    app.include_router(admin_router)
    app.include_router(cache_router)
    app.include_router(compaction_router)
    app.include_router(ops_router)
    app.include_router(trackers_router)
    app.include_router(metrics_router)
    app.include_router(asyncapi_router)
    include_slack(app)
    install_console(app, settings)
    install_openapi(app)
    app.add_middleware(EdgeMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(HttpMetricsMiddleware)
    # No span per chunk of a request body (a 5 MB upload arrives in ~80) nor per message
    # of the answer (two per request, about a tenth of a cached read's CPU): the
    # request's span and its "s3 put" span already time the work.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="health", exclude_spans=["receive", "send"]
    )
    return app


def main() -> None:
    import uvicorn

    settings = IngestSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=20,
        server_header=False,
    )
