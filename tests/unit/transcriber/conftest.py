"""Fixtures for the transcriber unit tests: synthesised audio, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.audio import long_dialogue, require_tools, synthesize_dialogue

SHORT_LINES = [
    ("en-us", "Hello, this is a test of the transcription service."),
    ("en-gb", "The budget for the project is fifty thousand dollars."),
]


THREE_MINUTE_LINES = long_dialogue(45)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        require_tools()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    return tmp_path_factory.mktemp("transcriber-audio")


@pytest.fixture(scope="session")
def short_wav(audio_dir: Path) -> Path:
    """~7 s, two voices."""
    return synthesize_dialogue(SHORT_LINES, audio_dir / "short.wav", fmt="wav")


@pytest.fixture(scope="session")
def short_mp3(audio_dir: Path) -> Path:
    return synthesize_dialogue(SHORT_LINES, audio_dir / "short.mp3", fmt="mp3")


@pytest.fixture(scope="session")
def minute_wav(audio_dir: Path) -> Path:
    """~60 s of dialogue (long enough that truncation to 40% is > 2 s short)."""
    return synthesize_dialogue(long_dialogue(12), audio_dir / "minute.wav", fmt="wav")


@pytest.fixture(scope="session")
def three_minute_wav(audio_dir: Path) -> Path:
    """~3 min of dialogue for chunk stitching."""
    return synthesize_dialogue(THREE_MINUTE_LINES, audio_dir / "three.wav", fmt="wav")
