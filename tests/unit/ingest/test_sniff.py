from __future__ import annotations

import pytest

from callstream_ingest.upload.sniff import sniff_audio


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (bytes([0xFF, 0xFB, 0x90, 0x64]) + b"\x00" * 8, "mp3"),
        (b"OggS\x00\x02" + b"\x00" * 8, "ogg"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00", "mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "webm"),
        (b"FORM\x00\x00\x00\x00AIFF", "aiff"),
        (b"#!AMR\n", "amr"),
        (bytes([0xFF, 0xF1, 0x50, 0x80]), "aac"),
    ],
)
def test_recognises_audio_containers(head: bytes, name: str) -> None:
    fmt = sniff_audio(head)
    assert fmt is not None and fmt.name == name


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"%PDF-1.7\n",
        b"\x89PNG\r\n\x1a\n",
        b"hello world, not audio",
        b"PK\x03\x04",
        b"RIFF\x00\x00\x00\x00AVI ",
    ],
)
def test_rejects_non_audio(head: bytes) -> None:
    assert sniff_audio(head) is None
