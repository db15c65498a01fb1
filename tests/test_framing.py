"""Length-prefixed frames: splitting a byte stream back into payloads."""

from __future__ import annotations

import json
import random
import struct

import pytest

from distlab._framing import (
    MAX_FRAME_BYTES,
    FrameDecoder,
    FrameTooLargeError,
    format_size,
    frame,
)


def test_frame_prefixes_big_endian_length() -> None:
    assert frame(b"hello") == b"\x00\x00\x00\x05hello"
    assert frame(b"") == b"\x00\x00\x00\x00"
    big = b"x" * 0x010203
    assert frame(big)[:4] == b"\x00\x01\x02\x03"


def test_single_frame_in_one_feed() -> None:
    d = FrameDecoder()
    assert d.feed(frame(b'{"a":1}')) == [b'{"a":1}']
    assert d.pending_bytes == 0


def test_frame_split_byte_by_byte() -> None:
    payload = json.dumps({"type": "echo", "text": "héllo" * 50}).encode()
    data = frame(payload)
    d = FrameDecoder()
    out: list[bytes] = []
    for i in range(len(data)):
        got = d.feed(data[i : i + 1])
        if i < len(data) - 1:
            assert got == []
            assert d.pending_bytes == i + 1
        out += got
    assert out == [payload]
    assert d.pending_bytes == 0


def test_several_frames_in_one_feed() -> None:
    payloads = [b"one", b"", b"three", b"{}", b"x" * 1000]
    d = FrameDecoder()
    assert d.feed(b"".join(frame(p) for p in payloads)) == payloads
    assert d.pending_bytes == 0


def test_several_frames_plus_a_partial_one() -> None:
    d = FrameDecoder()
    tail = frame(b"partial-frame")
    assert d.feed(frame(b"a") + frame(b"b") + tail[:6]) == [b"a", b"b"]
    assert d.pending_bytes == 6
    assert d.feed(tail[6:]) == [b"partial-frame"]
    assert d.pending_bytes == 0


def test_header_split_across_feeds() -> None:
    d = FrameDecoder()
    data = frame(b"abc")
    assert d.feed(data[:2]) == []
    assert d.feed(data[2:4]) == []
    assert d.feed(data[4:]) == [b"abc"]


def test_random_chunking_recovers_every_frame() -> None:
    rng = random.Random(1234)
    payloads = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))) for _ in range(200)]
    stream = b"".join(frame(p) for p in payloads)
    d = FrameDecoder()
    out: list[bytes] = []
    pos = 0
    while pos < len(stream):
        step = rng.randrange(1, 40)
        out += d.feed(stream[pos : pos + step])
        pos += step
    assert out == payloads
    assert d.pending_bytes == 0


def test_empty_payload_frames() -> None:
    d = FrameDecoder()
    assert d.feed(frame(b"")) == [b""]
    assert d.feed(frame(b"") * 3) == [b"", b"", b""]
    assert d.feed(b"") == []
    assert d.pending_bytes == 0


def test_frame_at_the_limit_is_accepted() -> None:
    d = FrameDecoder(limit=10)
    assert d.feed(frame(b"0123456789")) == [b"0123456789"]


def test_oversized_header_raises_before_payload_arrives() -> None:
    d = FrameDecoder(limit=100)
    with pytest.raises(FrameTooLargeError) as info:
        d.feed(struct.pack(">I", 101))  # the header alone, not one payload byte
    assert info.value.size == 101
    assert info.value.limit == 100
    message = str(info.value)
    assert "101 bytes" in message and "100 bytes" in message


def test_oversized_error_names_both_sizes_in_units() -> None:
    d = FrameDecoder()
    size = 3 * 1024 * 1024
    with pytest.raises(FrameTooLargeError) as info:
        d.feed(struct.pack(">I", size) + b"xx")
    assert str(info.value) == "frame of 3.0 MiB exceeds the 1.0 MiB limit"
    assert info.value.size == size
    assert info.value.limit == MAX_FRAME_BYTES


def test_oversized_header_split_across_feeds() -> None:
    d = FrameDecoder(limit=1000)
    header = struct.pack(">I", 2048)
    assert d.feed(header[:3]) == []
    with pytest.raises(FrameTooLargeError, match=r"2\.0 KiB exceeds the 1000 bytes limit"):
        d.feed(header[3:])
    # The decoder did not buffer a payload it was never going to accept.
    assert d.pending_bytes <= len(header)


def test_frame_too_large_is_a_value_error() -> None:
    assert issubclass(FrameTooLargeError, ValueError)


def test_complete_frames_before_an_oversized_header_are_not_lost() -> None:
    d = FrameDecoder(limit=100)
    received: list[bytes] = []
    with pytest.raises(FrameTooLargeError):
        # The good frame arrived whole; the error may come now or on the next feed.
        received += d.feed(frame(b"good") + struct.pack(">I", 10_000))
        d.feed(b"")
    assert received == [b"good"]


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024 * 1024, "1.0 MiB"),
        (5 * 1024 * 1024 + 512 * 1024, "5.5 MiB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text
