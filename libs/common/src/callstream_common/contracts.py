"""Versioned data contracts shared by every service.

Two families live here:

* the *results* a call accumulates (``Transcript``, ``MeddicAnalysis``) — stored in
  PostgreSQL, returned by the read API, rendered by the notifier;
* the *events* on Kafka (``CallUploaded``, ``CallTranscribed``, ``CallAnalyzed``,
  ``CompactionRequested``, ``TranscriptionChunkRequested``) — small, carrying ids rather
  than payloads, so a 2-hour transcript never travels through the broker.

Every event carries ``schema_version``; a consumer that meets a version it does not know
rejects the record as a permanent failure instead of guessing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every boundary model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- results


class TranscriptWord(Contract):
    """One recognised word with its time: what lets a speaker change fall inside a segment."""

    start: Annotated[float, Field(ge=0)]
    end: Annotated[float, Field(ge=0)]
    text: str


class TranscriptSegment(Contract):
    start: Annotated[float, Field(ge=0)]
    end: Annotated[float, Field(ge=0)]
    text: str
    speaker: str | None = None
    words: list[TranscriptWord] = []


class Diarization(StrEnum):
    """How the speakers of a transcript were told apart."""

    NONE = "none"
    CHANNELS = "channels"
    """Stereo: each channel is one side of the call, transcribed on its own (exact)."""
    CLUSTERING = "clustering"
    """Mono: voices clustered by their spectral features (an estimate)."""


class Transcript(Contract):
    language: str
    duration_seconds: Annotated[float, Field(ge=0)]
    segments: list[TranscriptSegment]
    provider: str = "builtin"
    model: str = ""
    diarization: Diarization = Diarization.NONE

    @property
    def speakers(self) -> list[str]:
        """Speaker labels in order of first appearance."""
        return list(dict.fromkeys(s.speaker for s in self.segments if s.speaker))

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


class MeddicDimension(StrEnum):
    METRICS = "metrics"
    ECONOMIC_BUYER = "economic_buyer"
    DECISION_CRITERIA = "decision_criteria"
    DECISION_PROCESS = "decision_process"
    IDENTIFY_PAIN = "identify_pain"
    CHAMPION = "champion"

    @property
    def title(self) -> str:  # type: ignore[override]
        return {
            "metrics": "Metrics",
            "economic_buyer": "Economic Buyer",
            "decision_criteria": "Decision Criteria",
            "decision_process": "Decision Process",
            "identify_pain": "Identify Pain",
            "champion": "Champion",
        }[self.value]


class QualificationStatus(StrEnum):
    STRONG = "Strong"
    MEDIUM = "Medium"
    WEAK = "Weak"
    AT_RISK = "At Risk"


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class SpeakerRole(StrEnum):
    REP = "rep"
    PROSPECT = "prospect"
    UNKNOWN = "unknown"


class SpeakerStats(Contract):
    speaker: str
    role: SpeakerRole = SpeakerRole.UNKNOWN
    talk_seconds: Annotated[float, Field(ge=0)]
    talk_share: Annotated[float, Field(ge=0, le=1)]
    questions: Annotated[int, Field(ge=0)] = 0
    longest_monologue_seconds: Annotated[float, Field(ge=0)] = 0.0


class Monologue(Contract):
    """A stretch one speaker talked without the other side saying anything of substance."""

    speaker: str | None
    role: SpeakerRole = SpeakerRole.UNKNOWN
    start: Annotated[float, Field(ge=0)]
    seconds: Annotated[float, Field(ge=0)]


class CallStats(Contract):
    """Conversation statistics of one call (talk ratio, monologues, questions, pace)."""

    duration_seconds: Annotated[float, Field(ge=0)]
    speakers: list[SpeakerStats] = []
    talk_share_by_role: dict[SpeakerRole, float] = {}
    questions_by_role: dict[SpeakerRole, int] = {}
    longest_monologue: Monologue | None = None
    longest_customer_story: Monologue | None = None
    interactivity: Annotated[float, Field(ge=0)] = 0.0
    """Speaker switches per minute of call."""
    patience_seconds: Annotated[float, Field(ge=0)] | None = None
    """Mean pause before the rep speaks after the prospect stops (None: no such turn)."""
    silence_share: Annotated[float, Field(ge=0, le=1)] = 0.0


class TrackerKind(StrEnum):
    KEYWORD = "keyword"
    """Any of the phrases, as whole words, case-insensitive."""
    SMART = "smart"
    """A sentence close in meaning to one of the phrases (sentence embeddings)."""


class TrackerDefinition(Contract):
    """What an organisation wants spotted in its calls: competitors, pricing, legal, ..."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    kind: TrackerKind = TrackerKind.KEYWORD
    phrases: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Field(min_length=1, max_length=100),
    ]
    threshold: Annotated[float, Field(gt=0, le=1)] = 0.6
    """Smart trackers only: minimum cosine similarity of a sentence to a phrase."""


class TrackerHit(Contract):
    tracker: str
    kind: TrackerKind
    phrase: str
    """The phrase that matched (for a smart tracker, the closest one)."""
    quote: str
    start: Annotated[float, Field(ge=0)]
    end: Annotated[float, Field(ge=0)]
    speaker: str | None = None
    role: SpeakerRole = SpeakerRole.UNKNOWN
    score: Annotated[float, Field(ge=0, le=1)] = 1.0


class Evidence(Contract):
    """A quote from the transcript that supports a score, with where it was said."""

    quote: str
    start: Annotated[float, Field(ge=0)] | None = None
    end: Annotated[float, Field(ge=0)] | None = None
    speaker: str | None = None
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    role: SpeakerRole | None = None
    """Whether the rep or the prospect said it (None: roles unknown, e.g. no diarization)."""


class DimensionAssessment(Contract):
    dimension: MeddicDimension
    score: Annotated[int, Field(ge=1, le=5)]
    evidence: list[Evidence] = []
    gaps: list[str] = []
    recommendations: list[str] = []
    rationale: str = ""


class NextStep(Contract):
    action: str
    priority: Priority = Priority.MEDIUM


class Risk(Contract):
    description: str
    severity: Priority = Priority.MEDIUM


class MeddicAnalysis(Contract):
    """The scorecard: one assessment per MEDDIC dimension plus what follows from them."""

    dimensions: list[DimensionAssessment]
    overall_score: Annotated[float, Field(ge=1, le=5)]
    qualification_status: QualificationStatus
    key_findings: list[str] = []
    next_steps: list[NextStep] = []
    risks: list[Risk] = []
    provider: str = "builtin"
    model: str = ""
    agent_outputs: dict[str, object] = {}
    stats: CallStats | None = None
    trackers: list[TrackerHit] = []

    @field_validator("dimensions")
    @classmethod
    def _one_per_dimension(cls, v: list[DimensionAssessment]) -> list[DimensionAssessment]:
        names = [d.dimension for d in v]
        if sorted(names) != sorted(MeddicDimension):
            raise ValueError("exactly one assessment per MEDDIC dimension is required")
        return v

    def dimension(self, name: MeddicDimension) -> DimensionAssessment:
        return next(d for d in self.dimensions if d.dimension == name)

    def summary(self) -> dict[str, object]:
        """The compact form stored on the conversation row (JSONB) and sent in alerts."""
        return {
            "overall_score": self.overall_score,
            "qualification_status": self.qualification_status.value,
            "scores": {d.dimension.value: d.score for d in self.dimensions},
            "top_risks": [r.description for r in self.risks[:3]],
            "next_steps": [s.action for s in self.next_steps[:3]],
        }


# --------------------------------------------------------------------------- events


class ConversationMetadata(Contract):
    opportunity_name: str
    company_name: str | None = None
    rep_id: str
    title: str | None = None
    conversation_date: date | None = None
    participants: Annotated[list[Annotated[str, Field(max_length=120)]], Field(max_length=20)] = []
    """Names of the people on the call, if the uploader knows them (custom vocabulary)."""


class Event(Contract):
    """Fields every event carries. ``event_id`` is the idempotency key of a delivery."""

    schema_version: Literal[1] = 1
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)
    conversation_id: uuid.UUID


class CallUploaded(Event):
    event_type: Literal["call.uploaded"] = "call.uploaded"
    object_key: str
    content_type: str
    size_bytes: Annotated[int, Field(gt=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    filename: str | None = None
    metadata: ConversationMetadata
    priority: Annotated[int, Field(ge=0, le=10)] = 5
    not_before: datetime | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None


class CallTranscribed(Event):
    event_type: Literal["call.transcribed"] = "call.transcribed"
    language: str
    duration_seconds: float
    segment_count: int
    priority: Annotated[int, Field(ge=0, le=10)] = 5


class CallAnalyzed(Event):
    event_type: Literal["call.analyzed"] = "call.analyzed"
    overall_score: float
    qualification_status: QualificationStatus
    priority: Annotated[int, Field(ge=0, le=10)] = 5


class TranscriptionChunkRequested(Event):
    """One chunk of a long call for any transcriber instance to transcribe (internal: the
    transcriber splits a call longer than its threshold and assembles the chunks)."""

    event_type: Literal["transcription.chunk.requested"] = "transcription.chunk.requested"
    chunk_index: Annotated[int, Field(ge=0)]
    chunk_count: Annotated[int, Field(ge=1)]
    start_seconds: Annotated[float, Field(ge=0)]
    end_seconds: Annotated[float, Field(ge=0)]
    object_key: str
    """The chunk's audio (16 kHz mono FLAC) in the object store."""
    vocabulary: list[str] = []
    """Names the call is likely to contain (used by the first chunk's prompt)."""
    priority: Annotated[int, Field(ge=0, le=10)] = 5
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None


class ReanalysisRequested(Event):
    """Re-run the analysis of a call from its stored transcript; the analyzer stores the
    result as a new version and keeps the earlier ones."""

    event_type: Literal["analysis.requested"] = "analysis.requested"
    requested_by: str
    priority: Annotated[int, Field(ge=0, le=10)] = 8


class CompactionTrigger(StrEnum):
    EVENT = "event"
    MANUAL = "manual"
    UPLOAD = "upload"
    SCHEDULE = "schedule"


class CompactionRequested(Contract):
    schema_version: Literal[1] = 1
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)
    dataset: str
    partition_date: date | None = None
    trigger: CompactionTrigger
