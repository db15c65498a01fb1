"""Length-prefixed JSON frames: a 4-byte big-endian length, then that many bytes of JSON.

The decoder never trusts the length: a frame longer than the limit is reported before any of it
is buffered, so one bad peer cannot make a node allocate without bound.
"""

from __future__ import annotations

import struct

MAX_FRAME_BYTES = 1024 * 1024
_HEADER = struct.Struct(">I")


class FrameTooLargeError(ValueError):
    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"frame of {format_size(size)} exceeds the {format_size(limit)} limit")


def format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its length."""
    return _HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Splits a byte stream into frame payloads.

    >>> d = FrameDecoder()
    >>> d.feed(frame(b'{"a":1}') + frame(b"[]")[:3])
    [b'{"a":1}']
    >>> d.feed(frame(b"[]")[3:])
    [b'[]']
    """

    def __init__(self, *, limit: int = MAX_FRAME_BYTES) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self.error: FrameTooLargeError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete frames.

        A header announcing more than the limit raises FrameTooLargeError. Frames that arrived
        complete before it are returned first, with the error kept in ``error`` (and raised by
        the next ``feed``): the stream cannot be trusted past that point.
        """
        if self.error is not None:
            raise self.error
        self._buffer += data
        frames: list[bytes] = []
        buf = self._buffer
        start = 0
        while len(buf) - start >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buf, start)
            if size > self._limit:
                del buf[:start]
                self.error = FrameTooLargeError(size, self._limit)
                if frames:
                    return frames
                raise self.error
            end = start + _HEADER.size + size
            if len(buf) < end:
                break
            frames.append(bytes(buf[start + _HEADER.size : end]))
            start = end
        del buf[:start]
        return frames

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)
