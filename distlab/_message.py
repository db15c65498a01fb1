"""Messages: the Maelstrom envelope ``{"src", "dest", "body": {"type", "msg_id", ...}}``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import BodyNotJSONError


@dataclass(frozen=True)
class Message:
    """One message as a handler receives it.

    >>> msg = Message("client", "server", {"type": "ping", "msg_id": 1, "seq": 7})
    >>> msg.type, msg.msg_id, msg.body["seq"]
    ('ping', 1, 7)
    """

    src: str
    dest: str
    body: Mapping[str, Any]

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def msg_id(self) -> int | None:
        value = self.body.get("msg_id")
        return value if isinstance(value, int) else None

    @property
    def in_reply_to(self) -> int | None:
        value = self.body.get("in_reply_to")
        return value if isinstance(value, int) else None

    def to_envelope(self) -> dict[str, Any]:
        return {"src": self.src, "dest": self.dest, "body": dict(self.body)}


class EnvelopeError(ValueError):
    """A decoded frame is not a valid envelope; the message says what is wrong with it."""


def parse_envelope(obj: object) -> Message:
    """Check a decoded frame's shape and turn it into a :class:`Message`."""
    if not isinstance(obj, dict):
        raise EnvelopeError(f"frame is a JSON {type(obj).__name__}, not an envelope object")
    for key in ("src", "dest"):
        if not isinstance(obj.get(key), str):
            raise EnvelopeError(f"envelope has no string {key!r}")
    body = obj.get("body")
    if not isinstance(body, dict):
        raise EnvelopeError("envelope has no 'body' object")
    if not isinstance(body.get("type"), str):
        raise EnvelopeError("message body has no string 'type'")
    return Message(obj["src"], obj["dest"], body)


def encode_json(value: Any, *, what: str) -> bytes:
    """Compact JSON bytes; a value that is not JSON raises :class:`BodyNotJSONError`."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise BodyNotJSONError(f"{what} is not JSON: {exc}") from None
