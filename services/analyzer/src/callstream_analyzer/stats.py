"""Conversation statistics of a call: who talked how much, monologues, questions, pace.

What the best call-analysis products show next to the scorecard, computed from the
transcript's timed, speaker-labelled segments and the roles the analyzer assigned. Pure: no
I/O. Without speaker labels (a mono call nobody could diarize) only the call-level figures
(silence share, duration) are meaningful, and the per-speaker ones stay empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from callstream_analyzer.meddic.lexicon import ACK
from callstream_analyzer.meddic.sentences import Sentence
from callstream_common.contracts import (
    CallStats,
    Monologue,
    SpeakerRole,
    SpeakerStats,
    Transcript,
    TranscriptSegment,
)

INTERJECTION_SECONDS = 2.0
"""Another speaker's words shorter than this, or back-channel ("right", "mm-hm"), do not end
a monologue: they do not take the floor."""


@dataclass(frozen=True)
class _Turn:
    speaker: str
    start: float
    end: float


def _floor_turns(segments: Sequence[TranscriptSegment]) -> list[_Turn]:
    """Stretches in which one speaker held the floor, interjections folded in."""
    turns: list[_Turn] = []
    for seg in segments:
        if seg.speaker is None:
            continue
        interjection = seg.end - seg.start < INTERJECTION_SECONDS or bool(ACK.match(seg.text))
        if turns and (turns[-1].speaker == seg.speaker or interjection):
            last = turns[-1]
            end = max(last.end, seg.end) if last.speaker == seg.speaker else last.end
            turns[-1] = _Turn(last.speaker, last.start, end)
        else:
            turns.append(_Turn(seg.speaker, seg.start, seg.end))
    return turns


def _covered_seconds(segments: Sequence[TranscriptSegment]) -> float:
    total, reach = 0.0, 0.0
    for seg in sorted(segments, key=lambda s: s.start):
        start = max(seg.start, reach)
        if seg.end > start:
            total += seg.end - start
            reach = seg.end
    return total


def call_stats(
    transcript: Transcript,
    sentences: Sequence[Sentence],
    roles: Mapping[str | None, SpeakerRole],
) -> CallStats:
    """The statistics of one call; ``sentences`` (for questions) and ``roles`` come from the
    analyzer's own sentence splitting and role assignment."""
    segments = [s for s in transcript.segments if s.text.strip()]
    duration = max(transcript.duration_seconds, max((s.end for s in segments), default=0.0))
    speech = _covered_seconds(segments)
    silence = max(0.0, 1.0 - speech / duration) if duration else 0.0

    def role(speaker: str | None) -> SpeakerRole:
        return roles.get(speaker, SpeakerRole.UNKNOWN)

    labelled = [s for s in segments if s.speaker]
    talk: dict[str, float] = {}
    for seg in labelled:
        assert seg.speaker is not None
        talk[seg.speaker] = talk.get(seg.speaker, 0.0) + max(seg.end - seg.start, 0.0)
    total_talk = sum(talk.values())
    questions: dict[str, int] = {}
    for s in sentences:
        if s.speaker and s.is_question:
            questions[s.speaker] = questions.get(s.speaker, 0) + 1
    turns = _floor_turns(labelled)
    longest_by_speaker: dict[str, _Turn] = {}
    for t in turns:
        best = longest_by_speaker.get(t.speaker)
        if best is None or t.end - t.start > best.end - best.start:
            longest_by_speaker[t.speaker] = t

    def monologue(t: _Turn | None) -> Monologue | None:
        if t is None:
            return None
        return Monologue(
            speaker=t.speaker,
            role=role(t.speaker),
            start=round(t.start, 2),
            seconds=round(t.end - t.start, 1),
        )

    speakers = [
        SpeakerStats(
            speaker=sp,
            role=role(sp),
            talk_seconds=round(seconds, 1),
            talk_share=round(seconds / total_talk, 3) if total_talk else 0.0,
            questions=questions.get(sp, 0),
            longest_monologue_seconds=round(
                longest_by_speaker[sp].end - longest_by_speaker[sp].start, 1
            )
            if sp in longest_by_speaker
            else 0.0,
        )
        for sp, seconds in sorted(talk.items(), key=lambda kv: -kv[1])
    ]
    by_role_talk: dict[SpeakerRole, float] = {}
    by_role_questions: dict[SpeakerRole, int] = {}
    for st in speakers:
        by_role_talk[st.role] = round(by_role_talk.get(st.role, 0.0) + st.talk_share, 3)
        by_role_questions[st.role] = by_role_questions.get(st.role, 0) + st.questions
    switches = sum(1 for a, b in pairwise(labelled) if a.speaker != b.speaker)
    pauses = [
        max(0.0, b.start - a.end)
        for a, b in pairwise(labelled)
        if role(a.speaker) is SpeakerRole.PROSPECT and role(b.speaker) is SpeakerRole.REP
    ]
    prospect_turns = [t for t in turns if role(t.speaker) is SpeakerRole.PROSPECT]
    return CallStats(
        duration_seconds=round(duration, 1),
        speakers=speakers,
        talk_share_by_role=by_role_talk,
        questions_by_role=by_role_questions,
        longest_monologue=monologue(max(turns, key=lambda t: t.end - t.start, default=None)),
        longest_customer_story=monologue(
            max(prospect_turns, key=lambda t: t.end - t.start, default=None)
        ),
        interactivity=round(switches / (duration / 60.0), 2) if duration and labelled else 0.0,
        patience_seconds=round(sum(pauses) / len(pauses), 2) if pauses else None,
        silence_share=round(min(silence, 1.0), 3),
    )
