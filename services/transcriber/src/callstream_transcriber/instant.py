"""The benchmark/fault-test transcriber: no speech recognition, an answer at once.

It exists so that the pipeline's own overhead (Kafka hops, database, object store) can be
measured and hammered with hundreds of calls without Whisper's CPU cost in the way.
The recording is not downloaded (the script does not depend on it); the stage still checks
that it is in the object store, so an outage or a missing recording fails the call as it
would with a real engine. ``path`` is never opened.
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
    reads_audio = False
    """Its answer does not depend on the recording, so the stage does not download it: it
    only confirms the recording is in the object store (see ``TranscriberHandlers``)."""

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
