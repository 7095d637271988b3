"""The AsyncAPI document ingest serves: generated from the services' FastStream apps,
current, and covering every topic of the registry and every event contract."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest

from callstream_cli.asyncapi import OUTPUT, build_document, receivers, render
from callstream_cli.stack.settings import project_root
from callstream_common import dlq_headers, topics
from callstream_common.contracts import (
    CallAnalyzed,
    CallTranscribed,
    CallUploaded,
    CompactionRequested,
    TranscriptionChunkRequested,
)

EVENT_CONTRACTS = (
    CallUploaded,
    CallTranscribed,
    CallAnalyzed,
    CompactionRequested,
    TranscriptionChunkRequested,
)


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((project_root() / OUTPUT).read_text())
    return document


def test_served_document_is_what_the_apps_generate_now() -> None:
    assert (project_root() / OUTPUT).read_text() == render(), (
        "the AsyncAPI document is stale: run `callstream asyncapi`"
    )


def test_every_registry_topic_is_a_channel(served: dict[str, Any]) -> None:
    addresses = {c["address"] for c in served["channels"].values()}
    assert {t.name for t in topics.all_topics()} <= addresses
    for t in topics.STAGE_TOPICS:
        assert topics.retry_topic_for(t) in addresses
    for t in topics.PRIORITY_LANE_TOPICS:
        assert topics.priority_topic_for(t) in addresses
    assert topics.DLQ in addresses


def test_every_event_contract_is_a_payload_schema(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    payload_refs = {m["payload"].get("$ref", "") for m in served["components"]["messages"].values()}
    for contract in EVENT_CONTRACTS:
        assert contract.__name__ in schemas
        assert set(contract.model_fields) == set(schemas[contract.__name__]["properties"])
        assert f"#/components/schemas/{contract.__name__}" in payload_refs


def test_each_channel_carries_its_topics_contract(served: dict[str, Any]) -> None:
    messages = served["components"]["messages"]
    expected = {
        topics.CALLS_UPLOADED: "CallUploaded",
        topics.CALLS_TRANSCRIBED: "CallTranscribed",
        topics.CALLS_ANALYZED: "CallAnalyzed",
        topics.COMPACTION_REQUESTED: "CompactionRequested",
        topics.TRANSCRIPTION_CHUNK_REQUESTED: "TranscriptionChunkRequested",
    }
    for topic, contract in expected.items():
        for lane in (*topics.input_topics(topic), topics.retry_topic_for(topic)):
            (ref,) = served["channels"][lane]["messages"].values()
            message = messages[ref["$ref"].rsplit("/", 1)[-1]]
            assert message["payload"] == {"$ref": f"#/components/schemas/{contract}"}, lane


def test_headers_of_retry_and_dead_letter_records(served: dict[str, Any]) -> None:
    messages = served["components"]["messages"]
    retry = messages["CallUploadedRetry"]["headers"]
    assert {dlq_headers.H_ATTEMPT, dlq_headers.H_DUE_AT, dlq_headers.H_ORIGINAL_TOPIC} <= set(
        retry["required"]
    )
    dead = messages["DeadLetter"]["headers"]
    assert {dlq_headers.H_REASON, dlq_headers.H_EXC_CLASS, dlq_headers.H_SERVICE} <= set(
        dead["required"]
    )
    assert {dlq_headers.H_EXC_STACK, "traceparent"} <= set(dead["properties"])
    assert "x-callstream-priority" in messages["CallUploaded"]["headers"]["properties"]


def test_receivers_come_from_the_apps_with_their_consumer_groups(
    served: dict[str, Any],
) -> None:
    ops = served["operations"]
    for service, topic in (
        ("transcriber", topics.CALLS_UPLOADED),
        ("analyzer", topics.CALLS_TRANSCRIBED),
        ("notifier", topics.CALLS_ANALYZED),
        ("compactor", topics.CALLS_ANALYZED),
        ("compactor", topics.COMPACTION_REQUESTED),
    ):
        for address in (*topics.input_topics(topic), topics.retry_topic_for(topic)):
            op = ops[f"{service}.receive.{address}"]
            assert op["bindings"]["kafka"]["groupId"]["enum"] == [service]
    assert ops[f"notifier.receive.{topics.DLQ}"]["bindings"]["kafka"]["groupId"]["enum"] == [
        "dlq-recorder"
    ]
    assert f"ingest.send.{topics.CALLS_UPLOADED}" in ops


def test_public_topics_are_marked_stable(served: dict[str, Any]) -> None:
    stability = {k: c["x-callstream-stability"] for k, c in served["channels"].items()}
    assert stability[topics.CALLS_ANALYZED] == "stable"
    assert stability[topics.priority_topic_for(topics.CALLS_ANALYZED)] == "stable"
    assert stability[topics.COMPACTION_REQUESTED] == "internal"
    assert stability[topics.DLQ] == "stable"
    assert stability[topics.retry_topic_for(topics.CALLS_ANALYZED)] == "internal"


def test_a_stage_without_contract_is_refused() -> None:
    with pytest.raises(KeyError):
        build_document([("x", "x", "unknown.topic")])


def test_receivers_are_read_from_faststreams_own_specification() -> None:
    from faststream.kafka import KafkaBroker

    from callstream_common.stage import Stage

    broker = KafkaBroker()

    async def handler(event: Any) -> None: ...

    Stage(
        broker=broker,
        service="analyzer",
        group_id="analyzer-g",
        topic=topics.CALLS_TRANSCRIBED,
        model=CallTranscribed,
    ).consume(handler)
    assert receivers({"analyzer": broker}) == [
        ("analyzer", "analyzer-g", "calls.transcribed"),
        ("analyzer", "analyzer-g", "calls.transcribed.priority"),
        ("analyzer", "analyzer-g", "calls.transcribed.retry"),
    ]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and "//" in value:
                self.external.append(value)


def test_html_page_is_self_contained_and_lists_everything(served: dict[str, Any]) -> None:
    from callstream_ingest.asyncapi.page import render_asyncapi_html

    page = render_asyncapi_html(served)
    parser = _Assets()
    parser.feed(page)
    assert parser.external == []
    assert not {"script", "link", "img", "iframe"} & parser.tags
    for t in topics.all_topics():
        assert f"<code>{t.name}</code>" in page
    for contract in EVENT_CONTRACTS:
        assert f"id='schema-{contract.__name__}'" in page
