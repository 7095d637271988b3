"""OpenTelemetry set-up driven by the standard ``OTEL_*`` variables.

``OTEL_TRACES_EXPORTER`` picks the exporter (``otlp``, ``zipkin``, ``console``, ``none``);
``OTEL_SERVICE_NAME`` overrides the service name; the exporters read their own standard
endpoint variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_ZIPKIN_ENDPOINT``).
The W3C trace-context propagator is what carries one trace across the Kafka hops.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from callstream_common.settings import VERSION

_provider: TracerProvider | None = None


def _exporter(kind: str) -> SpanExporter | None:
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if kind == "zipkin":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter()
    if kind == "console":
        return ConsoleSpanExporter()
    if kind in ("none", ""):
        return None
    raise ValueError(f"unknown OTEL_TRACES_EXPORTER {kind!r} (otlp, zipkin, console, none)")


def setup_telemetry(service_name: str) -> TracerProvider:
    """Install the global tracer provider once per process and return it."""
    global _provider
    if _provider is not None:
        return _provider
    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    resource = Resource.create(
        {"service.name": name, "service.version": VERSION, "service.namespace": "callstream"}
    )
    provider = TracerProvider(resource=resource)
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "none").split(",")[0].strip().lower()
    exporter = _exporter(kind)
    if exporter is not None:
        processor = (
            SimpleSpanProcessor(exporter)
            if kind == "console"
            else BatchSpanProcessor(exporter, schedule_delay_millis=500)
        )
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )
    try:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument(
            tracer_provider=provider, request_hook=_mask_url, async_request_hook=_amask_url
        )
    except Exception:  # noqa: S110 - tracing never stops a service from starting
        pass
    _provider = provider
    return provider


def masked_url(url: str) -> str:
    """Scheme, host and the first two path segments only: webhook URLs carry their secret
    deeper in the path (Slack's ``/services/T…/B…/secret``) and must not reach the tracing
    backend; the query string (where some APIs take keys) is dropped too."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/")
    path = "/".join(segments[:2]) + ("/…" if len(segments) > 2 else "")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/{path}"


def _mask_url(span: Any, request: Any) -> None:
    if span is not None and span.is_recording():
        safe = masked_url(str(request.url))
        span.set_attribute("url.full", safe)
        span.set_attribute("http.url", safe)


async def _amask_url(span: Any, request: Any) -> None:
    _mask_url(span, request)


def shutdown_telemetry() -> None:
    if _provider is not None:
        _provider.force_flush(5000)
        _provider.shutdown()


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
