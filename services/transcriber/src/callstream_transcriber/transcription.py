"""Audio file → ``Transcript``: the port every engine implements, and what they share.

The handler only sees ``Transcriber.transcribe(path)``; which engine sits behind it (the
built-in Whisper of :mod:`.whisper` or the remote API of :mod:`.remote`) is a configuration
choice made once at start-up by :func:`callstream_transcriber.factory.build_transcriber`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from callstream_common.contracts import ConversationMetadata, Transcript

DEFAULT_CHUNK_SECONDS = 300.0
"""5 minutes. Peak memory grows with the chunk, not the call: faster-whisper's feature
extraction and VAD briefly need ~1.1 MB per second of chunk on top of ~330 MB of model and
runtime (measured: 300-s chunks peak at ~0.7 GB, 600-s chunks at ~1.2 GB, a 2-hour file
in one piece would need several GB). Cuts at pauses cost no accuracy, so smaller is safer."""


@runtime_checkable
class Transcriber(Protocol):
    """Turns one recording on local disk into a timed transcript.

    Synchronous on purpose: the work is CPU-bound (or a blocking upload), so the async
    handler runs it in a worker thread. Implementations raise ``UndecodableAudio`` or
    ``PermanentProviderError`` for failures retrying cannot fix, and
    ``RetryableProviderError`` for those it can. ``vocabulary`` holds names the call is
    likely to contain (company, opportunity, participants) for engines that can use them.
    """

    def transcribe(self, path: Path, vocabulary: Sequence[str] = ()) -> Transcript: ...


def available_cpus() -> int:
    """CPUs this process may run on (affinity/cgroup-aware where the OS tells us)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def place_segment(
    start: float, end: float, *, offset: float, limit: float, floor: float
) -> tuple[float, float]:
    """Shift chunk-relative segment times by ``offset`` and keep them sane.

    Whisper's timestamps can overshoot the audio by a frame or two, so times are clamped
    to ``[offset, limit]``, and starts are kept at or after ``floor`` (the previous
    segment's start) so the stitched transcript stays ordered.
    """
    abs_start = min(max(offset + start, offset, floor), limit)
    abs_end = min(max(offset + end, abs_start), limit)
    return round(abs_start, 3), round(abs_end, 3)


def vocabulary_of(metadata: ConversationMetadata) -> list[str]:
    """Names an upload says the call will contain: company, opportunity, participants."""
    names = [metadata.company_name or "", metadata.opportunity_name, *metadata.participants]
    return [n.strip() for n in dict.fromkeys(names) if n and n.strip()]


PROMPT_MAX_CHARS = 400
"""Whisper keeps only the last 223 tokens of a prompt, dropping its start: names past
~400 characters (100-200 tokens) would push out the first ones (company, opportunity)."""


def vocabulary_prompt(vocabulary: Sequence[str]) -> str | None:
    """ "Acme Analytics, Northwind." — names as a sentence Whisper continues in their
    spelling; whole names in the order given, as many as fit :data:`PROMPT_MAX_CHARS`."""
    names: list[str] = []
    length = 0
    for name in dict.fromkeys(v.strip() for v in vocabulary):
        if not name:
            continue
        length += len(name) + (2 if names else 1)
        if length > PROMPT_MAX_CHARS:
            break
        names.append(name)
    return ", ".join(names) + "." if names else None
