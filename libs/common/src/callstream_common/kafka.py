"""The FastStream Kafka broker every service uses, configured once.

Producers wait for all in-sync replicas (``acks=all``) and are idempotent on Apache Kafka,
so a publish that returned is durable and a producer retry never writes a duplicate; a
producer refused for a sequence gap starts again (:mod:`callstream_common.producer_recovery`).
FastStream's telemetry middleware opens a span per publish and per processed message and
carries the W3C trace context in the record headers; its Prometheus middleware counts
and times every consumed and published record (:mod:`callstream_common.metrics`).
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from opentelemetry import trace

from callstream_common import metrics, producer_recovery
from callstream_common.settings import CommonSettings


def broker_security(settings: CommonSettings) -> BaseSecurity | None:
    """SASL/TLS for managed Kafka (Confluent Cloud, MSK, Aiven) from settings alone."""
    use_ssl = settings.kafka_security_protocol.upper().startswith("SASL_SSL") or (
        settings.kafka_security_protocol.upper() == "SSL"
    )
    if settings.kafka_sasl_mechanism and settings.kafka_sasl_username:
        import ssl

        password = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        )
        ctx = ssl.create_default_context() if use_ssl else None
        kind = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }[settings.kafka_sasl_mechanism.upper()]
        return kind(username=settings.kafka_sasl_username, password=password, ssl_context=ctx)
    if use_ssl:
        import ssl

        return BaseSecurity(ssl_context=ssl.create_default_context())
    return None


def broker_options(settings: CommonSettings) -> dict[str, Any]:
    """Keyword arguments for ``KafkaBroker`` and FastStream's FastAPI ``KafkaRouter``."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotent_producer,
        "client_id": settings.service_name,
        "security": broker_security(settings),
        "middlewares": [
            KafkaTelemetryMiddleware(tracer_provider=trace.get_tracer_provider()),
            metrics.kafka_middleware(settings.service_name),
        ],
        "graceful_timeout": 30.0,
        # FastStream's per-record "Received"/"Processed" lines: at DEBUG, because a stage's
        # subscriber only dispatches the record (it is processed later, see inflight.py) and
        # two JSON log lines per record per stage are a measurable share of the cheap path.
        "log_level": logging.DEBUG,
        "request_timeout_ms": 15_000,
    }


def make_broker(settings: CommonSettings, **extra: Any) -> KafkaBroker:
    broker = KafkaBroker(**(broker_options(settings) | extra))
    producer_recovery.install(broker)
    return broker
