"""Recognise an audio container from its first bytes — never trust the client's type.

Covers what sales-call recorders and browsers produce: WAV, MP3 (ID3-tagged or bare
MPEG frames), Ogg (Opus/Vorbis), FLAC, MP4/M4A/3GP, WebM/Matroska, AAC (ADTS), AIFF, AMR.
A video MP4/WebM also passes: its audio track is what gets transcribed.
"""

from __future__ import annotations

from dataclasses import dataclass

SNIFF_BYTES = 64


@dataclass(frozen=True)
class AudioFormat:
    name: str
    content_type: str
    extension: str


WAV = AudioFormat("wav", "audio/wav", "wav")
MP3 = AudioFormat("mp3", "audio/mpeg", "mp3")
OGG = AudioFormat("ogg", "audio/ogg", "ogg")
FLAC = AudioFormat("flac", "audio/flac", "flac")
MP4 = AudioFormat("mp4", "audio/mp4", "m4a")
WEBM = AudioFormat("webm", "audio/webm", "webm")
AAC = AudioFormat("aac", "audio/aac", "aac")
AIFF = AudioFormat("aiff", "audio/aiff", "aiff")
AMR = AudioFormat("amr", "audio/amr", "amr")


def _mpeg_frame_sync(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version = (head[1] >> 3) & 0x3
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def sniff_audio(head: bytes) -> AudioFormat | None:
    """The container of ``head`` (the first :data:`SNIFF_BYTES` bytes), or None."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"RF64"):
        return WAV
    if head[:4] == b"RF64" and head[8:12] == b"WAVE":
        return WAV
    if head[:3] == b"ID3":
        return MP3
    if head[:4] == b"OggS":
        return OGG
    if head[:4] == b"fLaC":
        return FLAC
    if head[4:8] == b"ftyp":
        return MP4
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return WEBM
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    if head[:5] == b"#!AMR":
        return AMR
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return AAC
    if _mpeg_frame_sync(head):
        return MP3
    return None
