"""analysis.requested → a new analysis version of a call, from its stored transcript.

Unlike the first analysis (which skips a call already analysed, so a redelivery changes
nothing), a re-analysis always stores a new version: the current analysis moves to
``analysis_versions`` unchanged and the new one takes its place with the next version
number, all in one unit of work guarded by the re-analysis ledger of the repository — a
redelivered request adds no second version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from callstream_analyzer.meddic import Analyzer
from callstream_common.contracts import MeddicAnalysis, ReanalysisRequested
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.retry import PermanentError


@dataclass
class ReanalysisHandler:
    unit_of_work: Callable[[], UnitOfWork]
    analyzer: Analyzer

    async def on_requested(self, event: ReanalysisRequested) -> None:
        async with self.unit_of_work() as uow:
            transcript = await uow.conversations.transcript(event.conversation_id)
        if transcript is None:
            raise PermanentError(f"conversation {event.conversation_id} has no transcript")
        analysis = await asyncio.to_thread(self.analyzer.analyze, transcript)
        await self.store_version(event, analysis)

    async def store_version(self, event: ReanalysisRequested, analysis: MeddicAnalysis) -> None:
        async with self.unit_of_work() as uow:
            if await uow.conversations.add_analysis_version(
                event.conversation_id, analysis, event.event_id
            ):
                await uow.commit()
