"""Prometheus metrics: the series every service exposes, in one registry.

Every service records into prometheus-client's default registry (which also carries the
``process_*`` and ``python_*`` series), so a module anywhere in a process adds a series by
importing it from here:

* FastStream's ``KafkaPrometheusMiddleware`` (installed on every broker by
  :func:`callstream_common.kafka.broker_options`) counts messages received, processed and
  raised per topic (``handler``) and service (``app_name``), handler durations, message
  sizes and publishes per destination: ``callstream_received_messages_total``,
  ``callstream_received_processed_messages_duration_seconds``,
  ``callstream_published_messages_total``, ...
* The stage mechanics (:mod:`callstream_common.stage`) add what FastStream cannot see,
  because a stage routes its own failures: outcome and duration per stage and topic,
  retries and dead letters per stage and error class.
* :mod:`callstream_common.lag` sets consumer lag per group, topic and partition.
* Ingest adds HTTP, upload and outbox series.
* ``CACHE_LOOKUPS`` is the hook for the read cache: count each lookup with its layer
  (``detail``, ``list``, ``aggregate``) and result (``hit``, ``miss``, ``error``).

The FastStream services serve the registry on their own port (:func:`serve_metrics`);
ingest serves it on its API port.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

log = logging.getLogger(__name__)

PREFIX = "callstream"

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_SIZE_BUCKETS = tuple(float(2**n) for n in range(10, 32, 2))

STAGE_MESSAGES = Histogram(
    f"{PREFIX}_stage_handler_duration_seconds",
    "Time a stage spent on one record, by stage, topic and outcome "
    "(ok, retry, dead_letter, deferred; unrouted: the failure could not be published "
    "and the record is processed again).",
    ["stage", "topic", "outcome"],
    buckets=_DURATION_BUCKETS,
)
STAGE_RETRIES = Counter(
    f"{PREFIX}_stage_retries_total",
    "Records a stage sent to its delayed retry topic, by error class.",
    ["stage", "topic", "error_class"],
)
STAGE_DEAD_LETTERS = Counter(
    f"{PREFIX}_stage_dead_letters_total",
    "Records a stage gave up on and sent to the DLQ, by error class and reason "
    "(permanent or exhausted).",
    ["stage", "topic", "error_class", "reason"],
)
CONSUMER_LAG = Gauge(
    f"{PREFIX}_consumer_lag_messages",
    "Records not yet committed by a consumer group, per topic and partition.",
    ["group", "topic", "partition"],
)
CONSUMER_LAG_UPDATED = Gauge(
    f"{PREFIX}_consumer_lag_updated_timestamp_seconds",
    "When the consumer lag of this process's groups was last read from Kafka.",
)
HTTP_REQUESTS = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "HTTP requests by method, route template and status code.",
    ["method", "route", "status"],
    buckets=_DURATION_BUCKETS,
)
UPLOAD_BYTES = Histogram(
    f"{PREFIX}_upload_size_bytes",
    "Bytes received per upload request, by outcome (accepted, rejected, failed).",
    ["outcome"],
    buckets=_SIZE_BUCKETS,
)
UPLOAD_SECONDS = Histogram(
    f"{PREFIX}_upload_duration_seconds",
    "Upload request time from first byte to response, by outcome.",
    ["outcome"],
    buckets=_DURATION_BUCKETS,
)
OUTBOX_BACKLOG = Gauge(
    f"{PREFIX}_outbox_backlog_events",
    "Committed events still waiting in the transactional outbox for Kafka.",
)
OUTBOX_OLDEST_AGE = Gauge(
    f"{PREFIX}_outbox_oldest_event_age_seconds",
    "Age of the oldest event waiting in the outbox (0 when empty).",
)
CACHE_LOOKUPS = Counter(
    f"{PREFIX}_cache_lookups_total",
    "Read-cache lookups by layer (detail, list, aggregate) and result (hit, miss, error).",
    ["layer", "result"],
)


def kafka_middleware(service: str) -> KafkaPrometheusMiddleware:
    """FastStream's consumer/publisher metrics, labelled with the service as ``app_name``."""
    return KafkaPrometheusMiddleware(registry=REGISTRY, app_name=service, metrics_prefix=PREFIX)


def error_class(exc: BaseException) -> str:
    return type(exc).__name__


def token_accepted(header: str, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries the scrape token (constant time)."""
    if token is None:
        return True
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would drown the service's own log."""


def metrics_wsgi_app(token: str | None) -> Callable[..., Iterable[bytes]]:
    """The registry as a WSGI app at ``/metrics`` (``/health`` answers too), behind the
    scrape token when one is configured."""
    exposition = make_wsgi_app(REGISTRY)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok"}']
        if path != "/metrics":
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": {"code": "not_found", "message": "try /metrics"}}']
        if not token_accepted(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "application/json"), ("WWW-Authenticate", "Bearer")],
            )
            return [b'{"error": {"code": "unauthorized", "message": "scrape token required"}}']
        return exposition(environ, start_response)

    return app


class MetricsServer:
    """``/metrics`` of a FastStream service on its own port, in a daemon thread (the
    exposition is synchronous and cheap; the event loop never waits for a scrape)."""

    def __init__(self, host: str, port: int, token: str | None) -> None:
        self._server = make_server(
            host, port, metrics_wsgi_app(token), ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        log.info("metrics served on port %d at /metrics", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
