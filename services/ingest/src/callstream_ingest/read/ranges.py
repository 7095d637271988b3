"""HTTP byte ranges (RFC 9110 §14) for streaming a recording: one range per request, which
is what audio players ask for when they seek."""

from __future__ import annotations

from dataclasses import dataclass


class UnsatisfiableRange(ValueError):
    """The range lies outside the object (answered with 416 and its size)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int
    """Inclusive, as in ``Content-Range``."""

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, or None to send the whole object (no header, a
    unit other than bytes, several ranges or a malformed header: RFC 9110 lets a server
    ignore those and answer 200)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = spec.strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                raise UnsatisfiableRange("empty suffix range")
            return ByteRange(max(0, size - suffix), size - 1)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        raise UnsatisfiableRange(f"range starts at {start}, the recording has {size} bytes")
    if start < 0 or end < start:
        return None
    return ByteRange(start, min(end, size - 1))
