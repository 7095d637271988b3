"""A transcript as sentences with time, speaker and role: the unit the analyzer labels.

Consecutive segments of one speaker are joined into a turn (ASR segments often cut a sentence
in two), the turn is split into sentences, and each sentence gets its start/end by
interpolating character offsets inside the segments it spans, so every quote can point at the
moment it was said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callstream_common.contracts import SpeakerRole, Transcript, TranscriptSegment

Role = SpeakerRole
"""Who a speaker is in the call (rep, prospect, unknown): the contracts' ``SpeakerRole``."""


@dataclass(frozen=True)
class Sentence:
    index: int
    text: str
    start: float
    end: float
    speaker: str | None
    turn: int
    is_question: bool
    role: Role = Role.UNKNOWN


_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc inc ltd co corp e.g i.e approx dept est no fig a.m p.m"
    " u.s u.k".split()
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+")
_QUESTION_START = re.compile(
    r"^(?:so |and |but |okay,? |ok,? |right,? |also,? )?(?:who|what|when|where|why|how|which|"
    r"whose|do|does|did|is|are|was|were|can|could|would|will|should|have|has|any)\b",
    re.IGNORECASE,
)
_MAX_WORDS = 45
_CHUNK_WORDS = 30


_UNPUNCTUATED_QUESTION = re.compile(
    r"^(?:(?:so|and|okay|ok|got it|great|right|cool|perfect|alright)\b[ ,]*)+"
    r"(?:who|what|when|where|why|how|which|do you|does|did you|is there|are there|can you|"
    r"could you|would you|will you)\b",
    re.IGNORECASE,
)


def _is_question(text: str) -> bool:
    t = text.strip()
    if t.endswith("?"):
        return True
    if t.endswith((".", "!")):
        return False
    return bool(_QUESTION_START.match(t) or _UNPUNCTUATED_QUESTION.match(t))


def _split_long(text: str) -> list[tuple[int, int]]:
    """Character spans of pieces of at most ~_CHUNK_WORDS words, cut at clause boundaries
    where possible: unpunctuated ASR output would otherwise be one huge 'sentence'."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    if len(words) <= _MAX_WORDS:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    begin = 0
    for i in range(len(words)):
        count = i - begin + 1
        at_clause = text[words[i][1] - 1] in ",;:" and count >= _CHUNK_WORDS // 2
        if at_clause or count >= _CHUNK_WORDS or i == len(words) - 1:
            spans.append((words[begin][0], words[i][1]))
            begin = i + 1
    return spans


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        last_word = text[pos : m.start()].rsplit(maxsplit=1)
        token = last_word[-1].lower().rstrip(".") if last_word else ""
        if m.group().startswith(".") and (token in _ABBREVIATIONS or len(token) == 1):
            continue
        spans.append((pos, m.start() + len(m.group().rstrip())))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        for x, y in _split_long(piece.strip()):
            out.append((a + lead + x, a + lead + y))
    return out


def split_sentences(transcript: Transcript) -> list[Sentence]:
    """Sentences of the transcript in order, each with interpolated start/end and speaker."""
    sentences: list[Sentence] = []
    turn_index = -1
    segments = [s for s in transcript.segments if s.text.strip()]
    # Without punctuation a segment boundary is the best sentence boundary there is, and
    # without diarization consecutive segments may be different people: merge only what is
    # known to be one speaker, or a punctuated sentence that a segment boundary cut in two.
    punctuated = sum(bool(re.search(r"[.?!]", s.text)) for s in segments) >= 0.3 * len(segments)

    def continues(prev_text: str, speaker: str | None, nxt: TranscriptSegment) -> bool:
        if nxt.speaker != speaker:
            return False
        if speaker is not None:
            return True
        return punctuated and not re.search(r"[.?!…][\"')\]]*\s*$", prev_text)

    i = 0
    while i < len(segments):
        speaker = segments[i].speaker
        parts: list[tuple[int, int, float, float]] = []  # char start, char end, t0, t1
        text = ""
        while i < len(segments) and (not text or continues(text, speaker, segments[i])):
            seg = segments[i]
            piece = " ".join(seg.text.split())
            if text:
                text += " "
            parts.append((len(text), len(text) + len(piece), seg.start, max(seg.end, seg.start)))
            text += piece
            i += 1
        turn_index += 1

        def at(offset: int, parts: list[tuple[int, int, float, float]] = parts) -> float:
            for a, b, t0, t1 in parts:
                if offset <= b:
                    frac = 0.0 if b == a else min(max((offset - a) / (b - a), 0.0), 1.0)
                    return round(t0 + (t1 - t0) * frac, 2)
            return round(parts[-1][3], 2)

        for a, b in _sentence_spans(text):
            piece = text[a:b].strip()
            if not re.search(r"\w", piece):
                continue
            sentences.append(
                Sentence(
                    index=len(sentences),
                    text=piece,
                    start=at(a),
                    end=max(at(b), at(a)),
                    speaker=speaker,
                    turn=turn_index,
                    is_question=_is_question(piece),
                )
            )
    return sentences
