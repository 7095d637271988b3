from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from callstream_common.contracts import (
    CallUploaded,
    ConversationMetadata,
    DimensionAssessment,
    MeddicAnalysis,
    MeddicDimension,
    QualificationStatus,
)
from callstream_common.retry import PermanentError, UnknownSchemaVersion
from callstream_common.stage import decode_event
from callstream_common.topics import DLQ, all_topics, retry_topic_for


def uploaded(**over: object) -> CallUploaded:
    base: dict[str, object] = {
        "conversation_id": uuid.uuid4(),
        "object_key": "recordings/x.wav",
        "content_type": "audio/wav",
        "size_bytes": 10,
        "sha256": "a" * 64,
        "metadata": ConversationMetadata(opportunity_name="Acme", rep_id="r1"),
    }
    return CallUploaded.model_validate(base | over)


def test_event_round_trips_through_json() -> None:
    event = uploaded(priority=9)
    again = decode_event(CallUploaded, event.model_dump_json().encode())
    assert again == event and again.schema_version == 1


def test_decode_names_malformed_json() -> None:
    with pytest.raises(PermanentError, match="malformed JSON"):
        decode_event(CallUploaded, b"{not json")


def test_decode_names_unknown_schema_version() -> None:
    data = uploaded().model_dump(mode="json") | {"schema_version": 99}
    import json

    with pytest.raises(UnknownSchemaVersion, match="unknown schema_version 99"):
        decode_event(CallUploaded, json.dumps(data).encode())


def test_decode_names_the_invalid_field() -> None:
    import json

    data = uploaded().model_dump(mode="json") | {"size_bytes": -5}
    with pytest.raises(PermanentError, match=r"size_bytes: Input should be greater than 0"):
        decode_event(CallUploaded, json.dumps(data).encode())


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        uploaded(surprise=1)


def test_analysis_needs_each_dimension_once() -> None:
    dims = [DimensionAssessment(dimension=d, score=3) for d in MeddicDimension]
    analysis = MeddicAnalysis(
        dimensions=dims, overall_score=3, qualification_status=QualificationStatus.MEDIUM
    )
    assert analysis.summary()["scores"] == {d.value: 3 for d in MeddicDimension}
    with pytest.raises(ValidationError, match="exactly one assessment"):
        MeddicAnalysis(
            dimensions=dims[:5], overall_score=3, qualification_status=QualificationStatus.WEAK
        )


def test_topic_registry_has_a_retry_topic_per_stage_and_one_dlq() -> None:
    names = [t.name for t in all_topics()]
    assert names.count(DLQ) == 1
    for topic in ("calls.uploaded", "calls.transcribed", "calls.analyzed"):
        assert topic in names and retry_topic_for(topic) in names


def test_high_priority_events_travel_in_the_priority_lane() -> None:
    from callstream_common.topics import input_topics, lane_for, priority_topic_for

    assert lane_for("calls.uploaded", 9) == priority_topic_for("calls.uploaded")
    assert lane_for("calls.uploaded", 5) == "calls.uploaded"
    assert lane_for("compaction.requested", 10) == "compaction.requested"
    assert input_topics("calls.analyzed") == ("calls.analyzed", "calls.analyzed.priority")
    names = [t.name for t in all_topics()]
    assert "calls.uploaded.priority" in names
