"""analysis.requested → a new analysis version of a call, from its stored transcript.

Unlike the first analysis (which skips a call already analysed, so a redelivery changes
nothing), a re-analysis always stores a new version: the current analysis moves to
``analysis_versions`` unchanged and the new one takes its place with the next version
number, all in one transaction guarded by the processed-message ledger — a redelivered
request adds no second version.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from sqlalchemy import text

from callstream_analyzer.meddic import Analyzer
from callstream_common.contracts import (
    MeddicAnalysis,
    ReanalysisRequested,
    Transcript,
    TranscriptSegment,
)
from callstream_common.db import repo
from callstream_common.db.models import Conversation
from callstream_common.retry import PermanentError
from callstream_common.runtime import Runtime

LEDGER_GROUP = "analyzer-reanalysis"

ARCHIVE_CURRENT = """
INSERT INTO analysis_versions (id, conversation_id, version, overall_score,
  qualification_status, dimensions, key_findings, next_steps, risks, agent_outputs,
  provider, model, analyzed_at, superseded_at)
SELECT :archive_id, conversation_id, version, overall_score, qualification_status,
  dimensions, key_findings, next_steps, risks, agent_outputs, provider, model, created_at, now()
FROM meddic_analyses WHERE conversation_id = :id
"""

REPLACE_CURRENT = """
INSERT INTO meddic_analyses (id, conversation_id, overall_score, qualification_status,
  dimensions, key_findings, next_steps, risks, agent_outputs, stats, trackers, provider, model,
  version)
VALUES (:new_id, :id, :overall, :status, CAST(:dimensions AS jsonb), CAST(:findings AS jsonb),
  CAST(:steps AS jsonb), CAST(:risks AS jsonb), CAST(:agents AS jsonb),
  CAST(:stats AS jsonb), CAST(:trackers AS jsonb), :provider, :model, 1)
ON CONFLICT (conversation_id) DO UPDATE SET overall_score = EXCLUDED.overall_score,
  qualification_status = EXCLUDED.qualification_status, dimensions = EXCLUDED.dimensions,
  key_findings = EXCLUDED.key_findings, next_steps = EXCLUDED.next_steps,
  risks = EXCLUDED.risks, agent_outputs = EXCLUDED.agent_outputs,
  stats = EXCLUDED.stats, trackers = EXCLUDED.trackers,
  provider = EXCLUDED.provider, model = EXCLUDED.model,
  version = meddic_analyses.version + 1, created_at = now()
RETURNING version
"""


@dataclass
class ReanalysisHandler:
    runtime: Runtime
    analyzer: Analyzer

    async def on_requested(self, event: ReanalysisRequested) -> None:
        async with self.runtime.sessions() as session:
            row = (
                (
                    await session.execute(
                        text("SELECT * FROM transcripts WHERE conversation_id = :id"),
                        {"id": event.conversation_id},
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise PermanentError(f"conversation {event.conversation_id} has no transcript")
        transcript = Transcript(
            language=row["language"],
            duration_seconds=row["duration_seconds"],
            segments=[TranscriptSegment.model_validate(s) for s in row["segments"]],
            provider=row["provider"],
            model=row["model"],
        )
        analysis = await asyncio.to_thread(self.analyzer.analyze, transcript)
        await self.store_version(event, analysis)

    async def store_version(self, event: ReanalysisRequested, analysis: MeddicAnalysis) -> None:
        import json

        data = analysis.model_dump(mode="json")
        async with self.runtime.sessions() as session, session.begin():
            if not await repo.claim_event(session, LEDGER_GROUP, event.event_id):
                return
            conv = await session.get(Conversation, event.conversation_id, with_for_update=True)
            if conv is None:
                raise PermanentError(f"conversation {event.conversation_id} does not exist")
            await session.execute(
                text(ARCHIVE_CURRENT), {"archive_id": uuid.uuid4(), "id": conv.id}
            )
            await session.execute(
                text(REPLACE_CURRENT),
                {
                    "new_id": uuid.uuid4(),
                    "id": conv.id,
                    "overall": analysis.overall_score,
                    "status": analysis.qualification_status.value,
                    "dimensions": json.dumps(data["dimensions"]),
                    "findings": json.dumps(data["key_findings"]),
                    "steps": json.dumps(data["next_steps"]),
                    "risks": json.dumps(data["risks"]),
                    "agents": json.dumps(data["agent_outputs"]),
                    "stats": json.dumps(data["stats"]),
                    "trackers": json.dumps(data["trackers"]),
                    "provider": analysis.provider,
                    "model": analysis.model,
                },
            )
            conv.analysis_summary = analysis.summary()
