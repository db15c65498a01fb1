"""What the TUI shows, folded from trace events: plain data, no Textual, no I/O.

The live app and the replay screen both feed trace events to a ``ClusterModel`` and render it;
that is the whole boundary between the runtime and the screen. Because it is pure, the model is
tested without a terminal, and replay can rebuild it at any point of a trace.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from distlab._faults import FaultState
from distlab._trace import (
    CRASH,
    DELIVER,
    DROP,
    DUPLICATE,
    FAULT,
    LOST,
    PAUSE,
    RESTART,
    RESUME,
    RUN_START,
    SEND,
    SPAWN,
    START,
    STATUS,
    TERMINATE,
    TraceEvent,
)

RECENT_MESSAGES = 200
RECENT_EVENTS = 5000
RATE_WINDOW = 1.0  # seconds over which messages/s is measured


@dataclass
class NodeView:
    name: str
    role: str = ""
    state: str = "starting"
    incarnation: int = 0
    status: dict[str, Any] = field(default_factory=dict)
    sent: int = 0
    received: int = 0
    crashes: int = 0
    last_crash: str = ""


@dataclass
class MessageLine:
    """One message copy's journey, for the space-time view."""

    t: float
    src: str
    dest: str
    type: str
    mid: str
    copy: int = 0
    fate: str = "in flight"  # delivered, dropped, lost
    t_fate: float | None = None
    reason: str = ""


class ClusterModel:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeView] = {}
        self.messages: deque[MessageLine] = deque(maxlen=RECENT_MESSAGES)
        self._in_flight: dict[tuple[str, int], MessageLine] = {}
        self.events: deque[TraceEvent] = deque(maxlen=RECENT_EVENTS)
        self.totals: Counter[str] = Counter()
        self.faults = FaultState()
        self.seed: int | None = None
        self.placement = ""
        self.now = 0.0
        self.last_seq = 0
        self._send_times: deque[float] = deque()

    # -- reading ------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.nodes)

    def cut_off(self, name: str) -> bool:
        """Is the node cut from every other node by a partition?"""
        others = [n for n in self.nodes if n != name]
        return bool(others) and all(
            self.faults.cut_blocking(name, o) is not None
            and self.faults.cut_blocking(o, name) is not None
            for o in others
        )

    def shown_state(self, name: str) -> str:
        node = self.nodes[name]
        if node.state == "up" and self.cut_off(name):
            return "cut off"
        return node.state

    def messages_per_second(self) -> float:
        """Sends in the last RATE_WINDOW seconds before ``now``."""
        return len(self._send_times) / RATE_WINDOW

    def advance(self, now: float) -> None:
        """Time passed without events (a quiet cluster): let the rate fall to what it is."""
        self.now = max(self.now, now)
        self._forget_sends_before(self.now - RATE_WINDOW)

    def _forget_sends_before(self, t: float) -> None:
        while self._send_times and self._send_times[0] < t:
            self._send_times.popleft()

    # -- folding events -------------------------------------------------------------------

    def apply_all(self, events: Iterable[TraceEvent]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: TraceEvent) -> None:
        self.events.append(event)
        self.now = max(self.now, event.t)
        self.last_seq = event.seq
        kind = event.kind
        if kind in (SEND, DELIVER, DROP, LOST, DUPLICATE):
            self.totals[kind] += 1
            self._message(event)
        elif kind == STATUS:
            self._node(event["node"]).status.update(event["fields"])
        elif kind in (START, RESTART):
            node = self._node(event["node"])
            node.role, node.incarnation, node.state = event["role"], event["incarnation"], "up"
            if kind == RESTART:
                node.status = {}
        elif kind == SPAWN:
            self._node(event["node"]).role = event["role"]
        elif kind == TERMINATE:
            self.nodes.pop(event["node"], None)  # it leaves the table and its lane goes
        elif kind == CRASH:
            node = self._node(event["node"])
            node.state, node.crashes = "crashed", node.crashes + 1
            node.last_crash = str(event.get("reason", ""))
        elif kind == PAUSE:
            self._node(event["node"]).state = "paused"
        elif kind == RESUME:
            self._node(event["node"]).state = "up"
        elif kind == FAULT:
            self.faults = FaultState.from_dict(event["faults"])
        elif kind == RUN_START:
            self.seed, self.placement = event.get("seed"), str(event.get("placement", ""))
            self.faults = FaultState.from_dict(event["faults"])
            for name, role in event.get("nodes", {}).items():
                self._node(name).role = role

    def mark_hung(self, name: str, where: str) -> None:
        """The node's code never yields (seen by the app, not in the trace): it shows as hung."""
        node = self._node(name)
        node.state, node.last_crash = "hung", where

    def _node(self, name: str) -> NodeView:
        node = self.nodes.get(name)
        if node is None:
            node = self.nodes[name] = NodeView(name)
        return node

    def _message(self, event: TraceEvent) -> None:
        kind = event.kind
        key = (event["mid"], event.get("copy", 0))
        if kind in (SEND, DUPLICATE):
            msg_type = event["body"]["type"] if kind == SEND else event.get("type", "")
            line = MessageLine(
                event.t, event["src"], event["dest"], str(msg_type), event["mid"], key[1]
            )
            self._in_flight[key] = line
            self.messages.append(line)
            if kind == SEND:
                self._node(event["src"]).sent += 1
                self._send_times.append(event.t)
                self._forget_sends_before(event.t - RATE_WINDOW)
            return
        if kind == DELIVER:
            self._node(event["dest"]).received += 1
        flying = self._in_flight.pop(key) if key in self._in_flight else None
        if flying is not None:
            flying.fate = {DELIVER: "delivered", DROP: "dropped", LOST: "lost"}[kind]
            flying.t_fate = event.t
            flying.reason = str(event.get("reason", ""))
