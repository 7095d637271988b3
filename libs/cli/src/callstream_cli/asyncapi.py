"""``callstream asyncapi``: the AsyncAPI 3.0 document of the Kafka side, generated from
the services' FastStream apps and written where ingest serves it from.

Each service's app is built (nothing connects) and FastStream's own AsyncAPI generator
lists what it consumes: every topic, retry topic, priority lane and the DLQ, with the
service's consumer group. Two things FastStream cannot see are added here: a stage
decodes raw bytes itself (so a poison record reaches the DLQ with its reason), so each
channel's payload is the event contract of its topic; and the headers the retry and DLQ
mechanics write (:mod:`callstream_common.dlq_headers`). A test regenerates the document and
compares it with the served copy, so the two never drift.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from callstream_cli.services import SERVICE_MODULES
from callstream_cli.stack.settings import project_root
from callstream_common import dlq_headers, topics
from callstream_common.contracts import (
    CallAnalyzed,
    CallTranscribed,
    CallUploaded,
    CompactionRequested,
    ReanalysisRequested,
    TranscriptionChunkRequested,
)
from callstream_common.lag import subscriptions
from callstream_common.settings import VERSION

OUTPUT = Path("services/ingest/src/callstream_ingest/asyncapi/asyncapi.json")

CONTRACTS: dict[str, type[BaseModel]] = {
    topics.CALLS_UPLOADED: CallUploaded,
    topics.CALLS_TRANSCRIBED: CallTranscribed,
    topics.CALLS_ANALYZED: CallAnalyzed,
    topics.COMPACTION_REQUESTED: CompactionRequested,
    topics.ANALYSIS_REQUESTED: ReanalysisRequested,
    topics.TRANSCRIPTION_CHUNK_REQUESTED: TranscriptionChunkRequested,
}

PRODUCERS: dict[str, tuple[str, ...]] = {
    topics.CALLS_UPLOADED: ("ingest",),
    topics.CALLS_TRANSCRIBED: ("transcriber",),
    topics.CALLS_ANALYZED: ("analyzer",),
    topics.COMPACTION_REQUESTED: ("ingest", "compactor"),
    topics.ANALYSIS_REQUESTED: ("ingest",),
    topics.TRANSCRIPTION_CHUNK_REQUESTED: ("transcriber",),
}
"""Who writes each stage topic (and its priority lane): the handlers' outputs, which
publish with ``broker.publish`` and so are invisible to FastStream's generator."""

STABLE = {
    *(lane for t in topics.PRIORITY_LANE_TOPICS for lane in topics.input_topics(t)),
    topics.DLQ,
}
"""Public interface: names and fields change only additively; a breaking change bumps
``schema_version``. The other channels are the pipeline's own mechanics."""

_TRACE_HEADERS = {
    "traceparent": "W3C trace context of the call's trace (one trace per call).",
    "tracestate": "W3C trace state, when the tracer sets one.",
}
_PRIORITY_HEADER = {
    "x-callstream-priority": "Priority 0-10 of the call (8 and above travel in priority lanes)."
}
_ATTEMPT_HEADERS = {
    dlq_headers.H_ATTEMPT: "Attempts made so far (a redelivered record carries it on).",
    dlq_headers.H_FIRST_FAILURE: "ISO-8601 time of the first failure.",
    dlq_headers.H_ORIGINAL_TOPIC: "Topic the record was first consumed from.",
    dlq_headers.H_ORIGINAL_PARTITION: "Its partition there.",
    dlq_headers.H_ORIGINAL_OFFSET: "Its offset there.",
    dlq_headers.H_SERVICE: "Service (stage) that failed on it.",
    dlq_headers.H_GROUP: "Consumer group of that stage.",
    dlq_headers.H_EXC_CLASS: "Exception class (module.qualname) of the last failure.",
    dlq_headers.H_EXC_MESSAGE: "Its message, truncated to 1000 characters.",
}
_RETRY_HEADERS = {
    dlq_headers.H_DUE_AT: "Epoch milliseconds before which the record is not retried.",
}
_DLQ_HEADERS = {
    dlq_headers.H_EXC_STACK: "Stack trace, truncated to its last 4000 characters.",
    dlq_headers.H_REASON: '"permanent" or "retries exhausted after N attempts".',
}


def base_topic(address: str) -> str:
    for suffix in (".retry", ".priority"):
        if address.endswith(suffix):
            return address.removesuffix(suffix)
    return address


def channel_kind(address: str) -> str:
    if address == topics.DLQ:
        return "dlq"
    if address.endswith(".retry"):
        return "retry"
    return "priority" if address.endswith(".priority") else "main"


def headers_schema(kind: str) -> dict[str, Any]:
    names = dict(_TRACE_HEADERS)
    if kind in ("main", "priority"):
        names |= _PRIORITY_HEADER | _ATTEMPT_HEADERS
    if kind in ("retry", "dlq"):
        names |= _ATTEMPT_HEADERS
    if kind == "retry":
        names |= _RETRY_HEADERS
    if kind == "dlq":
        names |= _DLQ_HEADERS
    required = {
        "retry": [dlq_headers.H_ATTEMPT, dlq_headers.H_DUE_AT, dlq_headers.H_ORIGINAL_TOPIC],
        "dlq": [
            dlq_headers.H_ATTEMPT,
            dlq_headers.H_ORIGINAL_TOPIC,
            dlq_headers.H_SERVICE,
            dlq_headers.H_EXC_CLASS,
        ],
    }.get(kind, [])
    return {
        "type": "object",
        "properties": {n: {"type": "string", "description": d} for n, d in sorted(names.items())},
        "required": sorted([*required, dlq_headers.H_REASON] if kind == "dlq" else required),
    }


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def app_brokers() -> dict[str, Any]:
    """Each installed service's broker, from its own ``create_app`` (instant providers, so
    no model is loaded; building an app connects to nothing)."""
    brokers: dict[str, Any] = {}
    env = {
        "CALLSTREAM_TRANSCRIBER_PROVIDER": "instant",
        "CALLSTREAM_ANALYZER_PROVIDER": "instant",
        "CALLSTREAM_LOG_JSON": "false",
        "OTEL_TRACES_EXPORTER": "none",
    }
    with _environment(env):
        for name, module in SERVICE_MODULES.items():
            try:
                app = importlib.import_module(f"{module}.app").create_app()
            except ModuleNotFoundError:
                continue
            brokers[name] = app.state.ingest.broker if name == "ingest" else app.broker
    return brokers


def receivers(brokers: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(service, consumer group, topic) of every subscriber, as FastStream documents it."""
    from faststream.specification import AsyncAPI

    found: list[tuple[str, str, str]] = []
    for service, broker in brokers.items():
        spec = AsyncAPI(broker, schema_version="3.0.0").to_specification().to_jsonable()
        groups = {t: g for g, names in subscriptions(broker).items() for t in names}
        for operation in spec.get("operations", {}).values():
            if operation["action"] != "receive":
                continue
            ref = operation["channel"]["$ref"].removeprefix("#/channels/")
            address = spec["channels"][ref.replace("~1", "/")]["address"]
            found.append((service, groups.get(address, service), address))
    return sorted(set(found))


def _schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in CONTRACTS.values():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return dict(sorted(out.items()))


def _message(address: str) -> tuple[str, dict[str, Any]]:
    kind = channel_kind(address)
    if kind == "dlq":
        payload: dict[str, Any] = {
            "description": "The failed record's value byte for byte: one of the event "
            "contracts, or whatever undecodable bytes were sent.",
            "oneOf": [{"$ref": f"#/components/schemas/{m.__name__}"} for m in CONTRACTS.values()]
            + [{"type": "string", "format": "binary"}],
        }
        return "DeadLetter", {
            "name": "DeadLetter",
            "title": "A record a stage gave up on",
            "contentType": "application/json",
            "payload": payload,
            "headers": headers_schema(kind),
        }
    model = CONTRACTS[base_topic(address)]
    name = model.__name__ + ("Retry" if kind == "retry" else "")
    return name, {
        "name": name,
        "title": f"{model.__name__} ({kind})" if kind != "main" else model.__name__,
        "summary": (model.__doc__ or "").strip().split("\n")[0] or model.__name__,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "headers": headers_schema(kind),
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "conversation id (dataset name "
                    "for compaction): one call's events stay in one partition",
                },
                "bindingVersion": "0.5.0",
            }
        },
    }


_DESCRIPTIONS = {
    "main": "Events of the stage; consumed by each listed consumer group.",
    "priority": "Priority lane (priority 8-10): same contract, its own consumers, so an "
    "urgent call overtakes a backlog.",
    "retry": "Delayed retries of the stage: held until the due time, then sent back to "
    "the original topic.",
    "dlq": "The one dead-letter topic: records every stage gave up on, with the reason in "
    "headers. Kept 30 days; recorded in PostgreSQL and replayed through the ops API.",
}


def build_document(found: list[tuple[str, str, str]], partitions: int = 6) -> dict[str, Any]:
    """The merged document: channels per topic, receive operations from the apps, send
    operations from the producers and the retry/DLQ mechanics."""
    specs = {t.name: t for t in topics.all_topics(partitions)}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def channel(address: str) -> str:
        if address not in channels:
            name, message = _message(address)
            messages[name] = message
            kind = channel_kind(address)
            spec = specs.get(address)
            channels[address] = {
                "address": address,
                "title": address,
                "description": _DESCRIPTIONS[kind],
                "messages": {name: {"$ref": f"#/components/messages/{name}"}},
                "bindings": {
                    "kafka": {
                        "topic": address,
                        "partitions": spec.partitions if spec else partitions,
                        "bindingVersion": "0.5.0",
                    }
                },
                "x-callstream-stability": "stable" if address in STABLE else "internal",
            }
        return address

    def operation(
        service: str, action: str, address: str, group: str | None = None, why: str = ""
    ) -> None:
        key = channel(address)
        ref = f"#/channels/{key}"
        name = next(iter(channels[key]["messages"]))
        op: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": ref},
            "messages": [{"$ref": f"{ref}/messages/{name}"}],
            "title": f"{service} {action}s {address}",
        }
        if why:
            op["summary"] = why
        if group is not None:
            op["bindings"] = {
                "kafka": {
                    "groupId": {"type": "string", "enum": [group]},
                    "bindingVersion": "0.5.0",
                }
            }
        operations[f"{service}.{action}.{address}"] = op

    for service, group, address in found:
        operation(service, "receive", address, group)
        kind = channel_kind(address)
        if kind == "retry":
            for lane in topics.input_topics(base_topic(address)):
                operation(service, "send", lane, why="re-delivers a retry once it is due")
        elif kind != "dlq":
            retry = topics.retry_topic_for(base_topic(address))
            operation(service, "send", retry, why="a retryable failure, or work not due yet")
            operation(service, "send", topics.DLQ, why="a permanent or exhausted failure")
    for topic, services in PRODUCERS.items():
        for service in services:
            for lane in topics.input_topics(topic):
                operation(service, "send", lane)
    for spec in specs.values():
        channel(spec.name)

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "callstream events",
            "version": VERSION,
            "description": "The Kafka topics of callstream: the events a call's stages "
            "exchange, their retry topics and priority lanes, and the dead-letter topic. "
            "Channels marked x-callstream-stability: stable are a public interface "
            "(e.g. a CRM sync consuming calls.analyzed).",
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "The local stack's broker; a deployment sets "
                "CALLSTREAM_KAFKA_BOOTSTRAP_SERVERS (SASL/TLS supported).",
            }
        },
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items())), "schemas": _schemas()},
    }


def render() -> str:
    return json.dumps(build_document(receivers(app_brokers())), indent=2, sort_keys=False) + "\n"


def register(app: typer.Typer) -> None:
    @app.command()
    def asyncapi(
        check: Annotated[
            bool, typer.Option(help="Fail if the served document is not up to date.")
        ] = False,
    ) -> None:
        """Regenerate the AsyncAPI document that ingest serves at /asyncapi(.json)."""
        target = project_root() / OUTPUT
        text = render()
        if check:
            if not target.exists() or target.read_text() != text:
                typer.echo(f"{OUTPUT} is out of date: run `callstream asyncapi`", err=True)
                raise typer.Exit(1)
            typer.echo(f"{OUTPUT} is up to date")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        typer.echo(f"wrote {OUTPUT}")
