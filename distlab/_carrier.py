"""What every transport shares: deciding and recording each message's fate.

A transport carries messages (over TCP in the live runtime, through a queue in virtual time in
the simulator), but the steps around carrying are the same everywhere and live here: check the
destination and the size, record the send, ask the network for a fate, record drops and
duplicates; then, when a copy falls due, check again for a partition cut in flight or a
destination that went down. Keeping these steps in one place is what makes the two runtimes
record the same trace for the same decisions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._framing import format_size, frame
from ._message import encode_json
from ._network import Network
from ._roster import Roster
from ._trace import DROP, DUPLICATE, FRAME_ERROR, LOST, SEND

Emit = Callable[..., object]


@dataclass(order=True)
class InFlight:
    """One copy of one message, between its send and its fate."""

    due: float
    order: int
    src: str = field(compare=False)
    dest: str = field(compare=False)
    mid: str = field(compare=False)
    type: str = field(compare=False)
    copy: int = field(compare=False)
    delay: float = field(compare=False)
    data: bytes = field(compare=False)  # the whole frame: length prefix, then JSON


class Carrier:
    """Base class of transports: subclasses carry each copy (``_carry``) and ``close``."""

    def __init__(
        self,
        *,
        roster: Roster,
        network: Network,
        emit: Emit,
        now: Callable[[], float],
        frame_limit: int,
    ) -> None:
        self._roster = roster
        self._network = network
        self._emit = emit
        self._now = now
        self._frame_limit = frame_limit
        self._order = itertools.count()
        self.closed = False

    def _carry(self, item: InFlight) -> None:
        raise NotImplementedError

    def close(self, reason: str = "the run ended while the message was in flight") -> None:
        raise NotImplementedError

    def send(
        self,
        *,
        src: str,
        dest: str,
        body: dict[str, Any],
        mid: str,
        payload: bytes | None = None,
    ) -> None:
        """Send one message. ``payload``: its envelope already encoded (by a node host)."""
        if self.closed:
            return
        if dest not in self._roster:
            self._emit(
                FRAME_ERROR,
                node=src,
                reason=f"message to unknown node {dest!r} rejected "
                f"(known nodes: {', '.join(self._roster.names())})",
            )
            return
        if payload is None:
            payload = encode_json(
                {"src": src, "dest": dest, "body": body}, what=f"the body of a message to {dest}"
            )
        if len(payload) > self._frame_limit:
            self._emit(
                FRAME_ERROR,
                node=src,
                reason=f"message to {dest} is {format_size(len(payload))}, over the "
                f"{format_size(self._frame_limit)} frame limit; not sent",
            )
            return
        msg_type = body["type"]
        self._emit(SEND, src=src, dest=dest, mid=mid, body=body)
        decision = self._network.decide(src, dest)
        if decision.drop_reason is not None:
            self._emit(
                DROP,
                src=src,
                dest=dest,
                mid=mid,
                type=msg_type,
                copy=0,
                reason=decision.drop_reason,
            )
            return
        data = frame(payload)
        now = self._now()
        for copy, delay in enumerate(decision.delays):
            if copy:
                self._emit(DUPLICATE, src=src, dest=dest, mid=mid, type=msg_type, copy=copy)
            self._carry(
                InFlight(
                    now + delay, next(self._order), src, dest, mid, msg_type, copy, delay, data
                )
            )

    def due(self, item: InFlight) -> bool:
        """A copy's delay ran out: may it be delivered? If not, its drop or loss is recorded."""
        reason = self._network.blocked(item.src, item.dest)
        if reason is not None:
            self.fate(DROP, item, reason=f"{reason}, cut in flight")
            return False
        entry = self._roster.get(item.dest)
        if entry is None or not entry.reachable:
            state = entry.state if entry else "gone"
            self.fate(LOST, item, reason=f"{item.dest} was down ({state})")
            return False
        return True

    def fate(self, kind: str, item: InFlight, **extra: Any) -> None:
        self._emit(
            kind,
            src=item.src,
            dest=item.dest,
            mid=item.mid,
            type=item.type,
            copy=item.copy,
            **extra,
        )
