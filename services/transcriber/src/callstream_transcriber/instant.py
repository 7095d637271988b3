"""The benchmark/fault-test transcriber: no speech recognition, an answer at once.

It exists so that the pipeline's own overhead (Kafka hops, database, object store) can be
measured and hammered with hundreds of calls without Whisper's CPU cost in the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from callstream_common.contracts import Transcript, TranscriptSegment

SCRIPT = [
    ("rep", "What problem are you trying to solve this quarter?"),
    ("prospect", "Our reps lose about ten hours a week on manual call notes, it costs us deals."),
    ("prospect", "We need to cut onboarding time by 30 percent, that is the metric we track."),
    ("prospect", "Our CFO Dana signs off on anything over fifty thousand dollars."),
    ("prospect", "Security review and a Salesforce integration are must haves for us."),
    ("prospect", "Procurement and legal review take about six weeks before signature."),
    ("prospect", "I will champion this internally and introduce you to Dana next week."),
]


class InstantTranscriber:
    def transcribe(self, path: Path, vocabulary: Sequence[str] = ()) -> Transcript:
        segments = [
            TranscriptSegment(start=i * 5.0, end=i * 5.0 + 4.5, text=text, speaker=who)
            for i, (who, text) in enumerate(SCRIPT)
        ]
        return Transcript(
            language="en",
            duration_seconds=len(SCRIPT) * 5.0,
            segments=segments,
            provider="instant",
            model="fixed-script",
        )
