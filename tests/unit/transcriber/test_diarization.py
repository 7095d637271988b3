"""Speakers: stereo channels labelled exactly, mono voices clustered, segments re-cut at
sentence ends and speaker changes, decoding loops cut; real Whisper and real espeak voices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callstream_common.contracts import Diarization
from callstream_transcriber.audio import channels_differ, iter_pcm
from callstream_transcriber.diarization import (
    HOP_SECONDS,
    MAX_CLUSTERED_WINDOWS,
    SpeechWindows,
    cluster_windows,
    speaker_label,
    speaker_turns,
    speech_windows,
)
from callstream_transcriber.segments import TimedWord, build_segments, drop_loops
from callstream_transcriber.transcription import PROMPT_MAX_CHARS
from callstream_transcriber.whisper import WhisperTranscriber, vocabulary_prompt
from eval.diarization import Mix, build_mix, der, one_speaker_baseline


@pytest.fixture(scope="module")
def mix(audio_dir: Path) -> Mix:
    """~47 s, a male and a female espeak voice, varied pauses, two overlapping turns."""
    return build_mix("male-female", ("en-us+m3", "en-gb+f3"), 1, cache_dir=audio_dir)


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    return WhisperTranscriber(chunk_seconds=600)


def test_mono_clustering_beats_the_one_speaker_baseline(mix: Mix) -> None:
    samples = np.concatenate(list(iter_pcm(mix.path)))
    windows = speech_windows(samples)
    labels = cluster_windows(windows)
    assert len(set(labels.tolist())) == 2
    turns = speaker_turns(windows, labels.tolist())
    hypothesis = [(t.start, t.end, speaker_label(t.speaker)) for t in turns]
    ours, baseline = der(mix.turns, hypothesis), der(mix.turns, one_speaker_baseline(mix.turns))
    assert baseline > 0.4  # two voices of about equal talk time
    assert ours < 0.5 * baseline, (ours, baseline)


def test_one_voice_stays_one_speaker(audio_dir: Path) -> None:
    solo = build_mix("one-voice", ("en-us+m3",), 7, cache_dir=audio_dir)
    samples = np.concatenate(list(iter_pcm(solo.path)))
    assert set(cluster_windows(speech_windows(samples)).tolist()) == {0}


def test_mono_call_gets_speakers_on_words(whisper: WhisperTranscriber, mix: Mix) -> None:
    transcript = whisper.transcribe(mix.path)
    assert transcript.diarization is Diarization.CLUSTERING
    assert transcript.speakers == ["Speaker 1", "Speaker 2"]
    for seg in transcript.segments:
        assert seg.words and seg.words[0].start == seg.start
        assert "".join(w.text for w in seg.words) == seg.text.replace(" ", "")
    # The rep's opening and the prospect's first answer, each in its own voice.
    first = transcript.segments[0]
    answer = next(s for s in transcript.segments if "spreadsheets" in s.text)
    assert first.speaker == "Speaker 1" and answer.speaker == "Speaker 2"


def test_stereo_channels_are_the_speakers(whisper: WhisperTranscriber, mix: Mix) -> None:
    assert channels_differ(mix.stereo_path)
    transcript = whisper.transcribe(mix.stereo_path)
    assert transcript.diarization is Diarization.CHANNELS
    assert set(transcript.speakers) == {"Channel 1", "Channel 2"}
    truth = {"voice 1": "Channel 1", "voice 2": "Channel 2"}
    # Every segment lies inside a reference turn of its own channel's voice.
    for seg in transcript.segments:
        middle = (seg.start + seg.end) / 2
        owners = {truth[v] for s, e, v in mix.turns if s - 0.5 <= middle <= e + 0.5}
        assert seg.speaker in owners, (seg, owners)


def test_dual_mono_stereo_is_treated_as_mono(mix: Mix, tmp_path: Path) -> None:
    import subprocess

    twice = tmp_path / "twice.wav"
    subprocess.run(["sox", "-M", str(mix.path), str(mix.path), str(twice)], check=True)
    assert not channels_differ(twice)


def _words(text: str, speaker: str | None = None, start: float = 0.0) -> list[TimedWord]:
    return [
        TimedWord(start=start + i * 0.4, end=start + i * 0.4 + 0.3, text=" " + w, speaker=speaker)
        for i, w in enumerate(text.split())
    ]


def test_segments_end_at_sentences_and_speaker_changes() -> None:
    words = _words("Hi, I heard a beep. What was it?", "A") + _words("No idea.", "B", 5.0)
    segments = build_segments(words)
    assert [s.text for s in segments] == ["Hi, I heard a beep.", "What was it?", "No idea."]
    assert [s.speaker for s in segments] == ["A", "A", "B"]
    assert segments[1].start == pytest.approx(2.0) and segments[2].start == 5.0


def test_segments_end_at_long_pauses_and_stay_short() -> None:
    words = _words("so we looked at it", "A") + _words("and then nothing", "A", 10.0)
    assert len(build_segments(words)) == 2
    endless = _words(" ".join(["word"] * 200), "A")
    assert all(s.end - s.start <= 45.0 for s in build_segments(endless))


def test_loops_are_cut_and_real_repeats_kept() -> None:
    said = [w.text.strip() for w in drop_loops(_words("hello hello hello how are you"))]
    assert said == ["hello", "hello", "hello", "how", "are", "you"]
    looped = _words("thank you " * 6 + "bye")
    assert [w.text.strip() for w in drop_loops(looped)] == ["thank", "you", "bye"]
    assert len(drop_loops(_words("no no no no no"))) == 1


def test_vocabulary_prompt() -> None:
    assert vocabulary_prompt(["Acme Analytics", " ", "Northwind", "Acme Analytics"]) == (
        "Acme Analytics, Northwind."
    )
    assert vocabulary_prompt([]) is None


def test_vocabulary_prompt_keeps_the_first_names_when_many_are_given() -> None:
    """Whisper drops a long prompt's start: the prompt stops at whole names instead."""
    participants = [f"Participant Number {i:02d} " + "x" * 90 for i in range(20)]
    prompt = vocabulary_prompt(["Acme Analytics", "Acme renewal", *participants])
    assert prompt is not None and len(prompt) <= PROMPT_MAX_CHARS + 1
    assert prompt.startswith("Acme Analytics, Acme renewal, Participant Number 00 ")
    assert prompt.endswith("x.") and "Participant Number 19" not in prompt


def test_a_long_call_is_clustered_on_a_bounded_sample_and_every_window_labelled() -> None:
    """Two hours of speech windows of two voices (~14,000 windows, far above what is
    clustered at once): both voices found, every window labelled with its own voice."""
    rng = np.random.default_rng(7)
    n = 14_000
    voice = (np.arange(n) // 40) % 2  # turns of 20 s
    centres = rng.normal(0.0, 1.0, (2, 20))
    features = centres[voice] + rng.normal(0.0, 0.35, (n, 20))
    windows = SpeechWindows(np.arange(n) * HOP_SECONDS, features, np.zeros(0))
    assert n > 5 * MAX_CLUSTERED_WINDOWS
    labels = cluster_windows(windows)
    assert len(labels) == n
    agreement = float((labels == voice).mean())
    assert max(agreement, 1 - agreement) > 0.99
