"""What the TUI shows, folded from trace events: plain data, no Textual, no I/O.

The live app and the replay screen both feed trace events to a ``ClusterModel`` and render it;
that is the whole boundary between the runtime and the screen. Because it is pure, the model is
tested without a terminal, and replay can rebuild it at any point of a trace.

A lab may declare (lab.toml ``[tui]``) *parts*, the part each node is in as another node
publishes it (``in service`` is what the lb's ``in_service`` lists), and a *chart*, a count
sampled every ``CHART_STEP`` seconds of the run's clock (``len()`` of the cloud's
``instances``): the model keeps both (``parts``, ``series``), from the events alone.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from distlab._labs import ChartSpec, PartSpec

RECENT_MESSAGES = 200
RECENT_EVENTS = 5000
RATE_WINDOW = 1.0  # seconds over which messages/s is measured
CHART_STEP = 0.5  # seconds of the run's clock between two samples of the chart's count
SERIES_LIMIT = 100_000  # samples the chart keeps at most (about 14 hours of a run)
TERMINATED_SHOWN = 2.0  # seconds of the run's clock a terminated node stays in the table
TERMINATED = "terminated"


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
    """``parts`` and ``chart``: what the lab's lab.toml ``[tui]`` declares (none by default)."""

    def __init__(self, *, parts: Sequence[PartSpec] = (), chart: ChartSpec | None = None) -> None:
        self.part_specs = tuple(parts)
        self.chart = chart
        #: the chart's count every CHART_STEP seconds: [k] is its value at k * CHART_STEP
        #: (None: not published then)
        self.series: list[float | None] = []
        #: nodes terminated, by name: when, and how they were (a spawn of the name forgets it)
        self.terminated: dict[str, tuple[float, NodeView]] = {}
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
        node = self.nodes.get(name)
        if node is None:  # a row of the table that is no node: terminated, or not yet a node
            return TERMINATED if name in self.terminated else self.parts.get(name, "")
        if node.state == "up" and self.cut_off(name):
            return "cut off"
        return node.state

    @property
    def parts(self) -> dict[str, str]:
        """The part of each name that a part's status field lists (lab.toml ``[tui.parts]``):
        the first part, in the lab's order, whose node's latest status lists it."""
        found: dict[str, str] = {}
        for spec in self.part_specs:
            node = self.nodes.get(spec.node)
            listed = node.status.get(spec.field) if node is not None else None
            if isinstance(listed, list | tuple):
                for name in listed:
                    found.setdefault(str(name), spec.part)
        return found

    def rows(self, parts: dict[str, str] | None = None) -> list[NodeView]:
        """The nodes table's rows: every node, then the names that are no node:

        - a name a part lists that is not a node yet (``booting``: the cloud lists it, its
          ``spawn`` has not come), its state that part, with no role;
        - a terminated node, its state ``terminated``, for TERMINATED_SHOWN seconds after its
          ``terminate`` and as long as a part still lists it (an lb still draining it).

        ``parts``: ``self.parts``, if the caller has it already.
        """
        parts = self.parts if parts is None else parts
        rows = list(self.nodes.values())
        for name, part in parts.items():
            if name not in self.nodes and name not in self.terminated:
                rows.append(NodeView(name, state=part))
        for name, (t, node) in self.terminated.items():
            if name not in self.nodes and (name in parts or self.now - t <= TERMINATED_SHOWN):
                rows.append(node)
        return rows

    def chart_value(self) -> float | None:
        """The chart's count now: ``len()`` of its list field, or its number; None if none."""
        if self.chart is None:
            return None
        node = self.nodes.get(self.chart.node)
        value = node.status.get(self.chart.field) if node is not None else None
        if isinstance(value, list | tuple | dict):
            return len(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        return None

    def _sample_until(self, t: float) -> None:
        """Sample the chart's count at every step of the clock before ``t`` not sampled yet: the
        events until then are folded, those at ``t`` not yet."""
        if self.chart is None:
            return
        value = None
        while len(self.series) * CHART_STEP < t and len(self.series) < SERIES_LIMIT:
            if value is None:
                value = self.chart_value()
            self.series.append(value)

    def messages_per_second(self) -> float:
        """Sends in the last RATE_WINDOW seconds before ``now``."""
        return len(self._send_times) / RATE_WINDOW

    def advance(self, now: float) -> None:
        """Time passed without events (a quiet cluster): let the rate fall to what it is."""
        self._sample_until(now)
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
        self._sample_until(event.t)
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
            self.terminated.pop(event["node"], None)
            self._node(event["node"]).role = event["role"]
        elif kind == TERMINATE:
            gone = self.nodes.pop(event["node"], None)  # its lane goes; its row, soon
            if gone is not None:
                gone.state = TERMINATED
                self.terminated[gone.name] = (event.t, gone)
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
