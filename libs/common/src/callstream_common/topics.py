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
DLQ = "callstream.dlq"

STAGE_TOPICS = (CALLS_UPLOADED, CALLS_TRANSCRIBED, CALLS_ANALYZED, COMPACTION_REQUESTED)


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
    specs.append(TopicSpec(DLQ, 3, retention_ms=30 * 24 * 3600 * 1000))
    return specs
