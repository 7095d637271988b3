"""Timed words → transcript segments that end at sentence boundaries and speaker changes.

Whisper cuts its segments where its 30-s windows and timestamp tokens fall, often in the
middle of a sentence ("…I heard a" | "beep."); with word timestamps the transcript can be
re-cut where a reader expects it: at the end of a sentence, at a change of speaker (which
may fall inside a Whisper segment), or at a long pause. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from callstream_common.contracts import TranscriptSegment, TranscriptWord

_SENTENCE_END = re.compile(r"[.?!…][\"')\]]*$")
MAX_SEGMENT_SECONDS = 30.0
PAUSE_SECONDS = 2.0
MAX_REPEATS = 3
"""A word or phrase said more than this many times in a row is a decoding loop: real speech
repeats ("no, no, no") but does not go on; a loop is cut back to one occurrence."""


@dataclass(frozen=True)
class TimedWord:
    start: float
    end: float
    text: str
    """As Whisper prints it: with its leading space and punctuation."""
    speaker: str | None = None

    @property
    def bare(self) -> str:
        return re.sub(r"[^\w']", "", self.text.lower())


def drop_loops(words: Sequence[TimedWord], max_repeats: int = MAX_REPEATS) -> list[TimedWord]:
    """Cut runs of an n-gram (n <= 4) repeated more than ``max_repeats`` times in a row back
    to its first occurrence; shorter runs are kept as said."""
    out = list(words)
    n_max = 4
    i = 0
    while i < len(out):
        cut = False
        for n in range(1, n_max + 1):
            gram = [w.bare for w in out[i : i + n]]
            if len(gram) < n or not all(gram):
                break
            reps = 1
            while [w.bare for w in out[i + reps * n : i + (reps + 1) * n]] == gram:
                reps += 1
            if reps > max_repeats:
                del out[i + n : i + reps * n]
                cut = True
                break
        if not cut:
            i += 1
    return out


def build_segments(
    words: Sequence[TimedWord],
    *,
    max_seconds: float = MAX_SEGMENT_SECONDS,
    pause_seconds: float = PAUSE_SECONDS,
) -> list[TranscriptSegment]:
    """Segments of consecutive words, each ending at a sentence end, before a speaker change,
    before a pause of ``pause_seconds`` or at ``max_seconds`` (at a comma where possible)."""
    segments: list[TranscriptSegment] = []
    current: list[TimedWord] = []

    def close() -> None:
        text = "".join(w.text for w in current).strip()
        if text:
            segments.append(
                TranscriptSegment(
                    start=current[0].start,
                    end=max(current[-1].end, current[0].start),
                    text=re.sub(r"\s+", " ", text),
                    speaker=current[0].speaker,
                    words=[
                        TranscriptWord(start=w.start, end=max(w.end, w.start), text=w.text.strip())
                        for w in current
                        if w.text.strip()
                    ],
                )
            )
        current.clear()

    for word in words:
        if current:
            last = current[-1]
            if (
                word.speaker != last.speaker
                or word.start - last.end >= pause_seconds
                or _SENTENCE_END.search(last.text.strip())
                or (word.end - current[0].start > max_seconds and last.text.rstrip().endswith(","))
                or word.end - current[0].start > max_seconds * 1.5
            ):
                close()
        current.append(word)
    if current:
        close()
    return segments


def label_words(
    words: Sequence[TimedWord], speaker_at: Callable[[float, float], str | None]
) -> list[TimedWord]:
    """Each word with the speaker ``speaker_at(start, end)`` names (None keeps the word's)."""
    return [replace(w, speaker=speaker_at(w.start, w.end) or w.speaker) for w in words]
