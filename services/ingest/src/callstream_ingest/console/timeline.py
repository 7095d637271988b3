"""The pipeline timeline of one call (pure): each stage's start, end, duration, retries
and dead-letter visits, from the conversation's recorded timings and its DLQ entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STAGES = ("upload", "transcription", "analysis", "notification")
SERVICE_STAGE = {
    "ingest": "upload",
    "transcriber": "transcription",
    "analyzer": "analysis",
    "notifier": "notification",
}


@dataclass
class DeadLetterVisit:
    entry_id: str
    error_class: str
    error_message: str
    attempts: int
    status: str
    at: datetime


@dataclass
class TimelineStep:
    stage: str
    state: str
    """done, running, failed or waiting."""
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    retries: int = 0
    dead_letters: list[DeadLetterVisit] = field(default_factory=list)


def build_timeline(
    timings: dict[str, Any],
    dead_letters: list[DeadLetterVisit],
    dead_letter_stages: list[str],
    status: str,
    failure_stage: str | None,
) -> list[TimelineStep]:
    """``dead_letter_stages[i]`` is the service that dead-lettered ``dead_letters[i]``."""
    steps = []
    for stage in STAGES:
        entry = timings.get(stage) or {}
        visits = [
            v
            for v, svc in zip(dead_letters, dead_letter_stages, strict=True)
            if SERVICE_STAGE.get(svc, svc) == stage
        ]
        if "finished_at" in entry:
            state = "done"
        elif failure_stage and SERVICE_STAGE.get(failure_stage, failure_stage) == stage:
            state = "failed"
        elif "started_at" in entry:
            state = "failed" if status == "failed" else "running"
        else:
            state = "waiting"
        retries = max([int(entry.get("attempt", 1)) - 1, *(max(v.attempts - 1, 0) for v in visits)])
        steps.append(
            TimelineStep(
                stage=stage,
                state=state,
                started_at=entry.get("started_at"),
                finished_at=entry.get("finished_at"),
                seconds=entry.get("seconds"),
                retries=retries,
                dead_letters=visits,
            )
        )
    return steps
