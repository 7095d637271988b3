"""The topic registry: every Kafka topic the system uses, in one place.

Services never spell a topic name themselves; they import it from here so that a rename
is one change and `callstream stack up` can create exactly these topics.
"""

from __future__ import annotations

from dataclasses import dataclass

CALLS_UPLOADED = "calls.uploaded"
CALLS_TRANSCRIBED = "calls.transcribed"
CALLS_ANALYZED = "calls.analyzed"
COMPACTION_REQUESTED = "compaction.requested"
ANALYSIS_REQUESTED = "analysis.requested"
"""Re-analysis of a stored transcript, asked for through the API (consumed by the analyzer)."""
TRANSCRIPTION_CHUNK_REQUESTED = "transcription.chunk.requested"
"""One chunk of a long call, taken by any transcriber instance of the group (internal)."""
DLQ = "callstream.dlq"

STAGE_TOPICS = (
    CALLS_UPLOADED,
    CALLS_TRANSCRIBED,
    CALLS_ANALYZED,
    COMPACTION_REQUESTED,
    ANALYSIS_REQUESTED,
    TRANSCRIPTION_CHUNK_REQUESTED,
)


HIGH_PRIORITY = 8
"""Calls with this priority (0-10) or more travel in the priority lane of every stage."""

PRIORITY_LANE_TOPICS = (CALLS_UPLOADED, CALLS_TRANSCRIBED, CALLS_ANALYZED)


def priority_topic_for(topic: str) -> str:
    """The priority lane of a stage's input topic: a separate topic with its own consumer,
    so a high-priority call never waits behind a backlog of normal ones."""
    return f"{topic}.priority"


def lane_for(topic: str, priority: int) -> str:
    """Where an event of ``priority`` for the stage reading ``topic`` is published."""
    if priority >= HIGH_PRIORITY and topic in PRIORITY_LANE_TOPICS:
        return priority_topic_for(topic)
    return topic


def input_topics(topic: str) -> tuple[str, ...]:
    """Every topic a stage reading ``topic`` consumes (besides its retry topic)."""
    if topic in PRIORITY_LANE_TOPICS:
        return (topic, priority_topic_for(topic))
    return (topic,)


def retry_topic_for(topic: str) -> str:
    """The delayed-retry topic of a stage's input topic (one per input topic)."""
    return f"{topic}.retry"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int | None = None


def all_topics(partitions: int = 6) -> list[TopicSpec]:
    """Every topic with its partition count; the DLQ keeps records for 30 days."""
    specs = [TopicSpec(t, partitions) for t in STAGE_TOPICS]
    specs += [TopicSpec(retry_topic_for(t), partitions) for t in STAGE_TOPICS]
    specs += [TopicSpec(priority_topic_for(t), partitions) for t in PRIORITY_LANE_TOPICS]
    specs.append(TopicSpec(DLQ, 3, retention_ms=30 * 24 * 3600 * 1000))
    return specs
