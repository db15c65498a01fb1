"""The event log: recent trace events in words, with a filter line above them.

The filter is a few words; each is a node name, an event kind or a message type (told apart by
what the run knows), and a word starting with ``-`` hides instead of keeps::

    client            events about the client (as sender, receiver or subject)
    ping pong         messages of those types
    drop lost crash   events of those kinds
    -timer            everything but timers

Words of one sort widen the filter (either node), words of different sorts narrow it (this node
and this kind). An empty filter shows everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, RichLog

from distlab._describe import describe
from distlab._trace import EVENT_KINDS, TraceEvent
from distlab.tui._model import ClusterModel

MAX_LINES = 1000  # lines the log keeps
#: Lines written per update at most: more than a screenful per tick cannot be read anyway, and
#: writing thousands would stall the screen during a message storm.
MAX_LINES_PER_UPDATE = 200


def message_type(event: TraceEvent) -> str | None:
    body = event.get("body")
    if isinstance(body, dict):
        return str(body.get("type"))
    value = event.get("type")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class EventFilter:
    """Which events to show, by node, message type and kind; empty sets mean "any"."""

    nodes: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    hidden: frozenset[str] = field(default=frozenset())  # words after "-", of any sort

    @classmethod
    def parse(cls, text: str, node_names: Iterable[str]) -> EventFilter:
        known_nodes = set(node_names)
        nodes: set[str] = set()
        types: set[str] = set()
        kinds: set[str] = set()
        hidden: set[str] = set()
        for word in text.split():
            if word.startswith("-") and len(word) > 1:
                hidden.add(word[1:])
            elif word in known_nodes:
                nodes.add(word)
            elif word in EVENT_KINDS:
                kinds.add(word)
            else:
                types.add(word)
        return cls(frozenset(nodes), frozenset(types), frozenset(kinds), frozenset(hidden))

    def keeps(self, event: TraceEvent) -> bool:
        involved = {event.node, event.get("dest")}
        msg_type = message_type(event)
        if self.hidden and (
            event.kind in self.hidden or msg_type in self.hidden or involved & self.hidden
        ):
            return False
        if self.nodes and not involved & self.nodes:
            return False
        if self.types and msg_type not in self.types:
            return False
        return not (self.kinds and event.kind not in self.kinds)

    def describe(self) -> str:
        words = [*sorted(self.nodes), *sorted(self.types), *sorted(self.kinds)]
        words += [f"-{w}" for w in sorted(self.hidden)]
        return " ".join(words)


class EventLog(Vertical):
    """Recent events of a ``ClusterModel`` as lines, newest last, under a filter line.

    ``show(model)`` writes the events that are new since the last call (all of them again when the
    model is a different one, or went back in time, as in a replay); while the student has
    scrolled the log up, it holds still and catches up when scrolled back to the end.
    ``show(model, follow=True)`` (a replay's cursor moved) writes and scrolls even then, so that
    the newest event, the one at the cursor, is in view from its first line.
    ``set_filter(text)`` filters from code; ``focus_filter()`` puts the cursor in the filter
    line, and Enter or Escape there gives the focus back to where it was.
    """

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        border: round $primary 60%;
        border-title-align: left;
        &:focus-within { border: round $primary; }
        Input { height: 1; border: none; padding: 0 1; }
        RichLog { height: 1fr; background: transparent; scrollbar-size-vertical: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave_filter", "done filtering", show=False)
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "events"
        self.filter = EventFilter()
        self._filter_text = ""
        self._model: ClusterModel | None = None
        self._shown_seq = 0
        self._focus_before: Widget | None = None
        #: where the log was scrolled to by the last write: above it, the student scrolled up
        self._followed_y = 0.0
        #: lines the newest event written takes at the end of the log (None: not known yet, the
        #: log has no size and defers its writes)
        self._newest_lines: int | None = None

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: node, type or kind words; -word hides  (/)",
            compact=True,
            id="event-filter",
        )
        yield RichLog(max_lines=MAX_LINES, min_width=20, wrap=True, id="event-lines")

    # -- showing -------------------------------------------------------------------------------

    def show(self, model: ClusterModel, *, follow: bool = False) -> None:
        """Write what is new in ``model``; ``follow``: even if the student scrolled up."""
        log = self.query_one(RichLog)
        if model is not self._model or model.last_seq < self._shown_seq:
            self._model = model
            self._refilter(model)
            log.clear()
            self._newest_lines = None
            new = list(model.events)
        elif (
            not follow
            and log.lines
            and log.scroll_target_y < min(log.max_scroll_y, self._followed_y)
        ):
            # The student scrolled up to read (above where the last write left the end: the
            # end itself moves when the lines are wrapped anew, as the screen finds its size):
            # hold the page still (events keep in the model, and are written once the log is
            # scrolled back to its end). The target, not the position: scrolls animate.
            self.border_subtitle = "held: scrolled up (End follows)"
            return
        else:
            new = self._events_after(model, self._shown_seq)
        self.border_subtitle = ""
        self._shown_seq = model.last_seq
        written = self._write([e for e in new if self.filter.keeps(e)])
        if follow and not written:  # scrolled up, then a step to an event the filter hides
            self._scroll_to_newest(log)

    def _events_after(self, model: ClusterModel, seq: int) -> list[TraceEvent]:
        newer: list[TraceEvent] = []
        for event in reversed(model.events):
            if event.seq <= seq:
                break
            newer.append(event)
        newer.reverse()
        return newer

    def _write(self, events: list[TraceEvent]) -> bool:
        """Write ``events`` (True if there were any) and scroll to the newest."""
        if not events:
            return False
        log = self.query_one(RichLog)
        lines = [describe(event) for event in events[-MAX_LINES_PER_UPDATE:]]
        skipped = len(events) - len(lines)
        if skipped > 0:
            lines.insert(0, Text(f"… {skipped} earlier events not shown (a filter shows fewer)"))
            lines[0].stylize("dim")
        # One write per batch, not per line: each write costs a layout; but the newest event on
        # its own, to know where it starts (an event may take many lines: a crash's traceback).
        if len(lines) > 1:
            log.write(Text("\n").join(lines[:-1]), scroll_end=False)
        kept, before = log.lines, len(log.lines)
        log.write(lines[-1], scroll_end=False)
        # Counted on the list written to: a full log then keeps a new list without its first
        # lines. A log without a size yet defers its writes: their lines are not there to count.
        self._newest_lines = len(kept) - before if log.lines else None
        self._scroll_to_newest(log)
        return True

    def _scroll_to_newest(self, log: RichLog) -> None:
        # The end, unless the newest event is taller than the log: then its first line, at the
        # top. Scrolled now, not after the next refresh as RichLog would: a deferred scroll
        # would undo a key pressed between.
        height = log.scrollable_content_region.height
        newest = self._newest_lines
        if newest is not None and height and newest > height:
            log.scroll_to(y=len(log.lines) - newest, animate=False, immediate=True)
        else:
            log.scroll_end(animate=False, immediate=True, x_axis=False)
        self._followed_y = log.scroll_target_y

    # -- filtering -----------------------------------------------------------------------------

    def set_filter(self, text: str) -> None:
        """Filter the log (see the module's doc for the words) and show it again from the start."""
        self._filter_text = text
        if self._model is not None:
            model, self._model = self._model, None
            self.show(model)  # a different model forces a rewrite with the new filter
        else:
            self._refilter(None)

    def _refilter(self, model: ClusterModel | None) -> None:
        # Words are sorted into nodes, kinds and types by what the run knows now.
        self.filter = EventFilter.parse(self._filter_text, model.names if model else ())
        words = self.filter.describe()
        self.border_title = f"events · {words}" if words else "events"

    def focus_filter(self) -> None:
        self._focus_before = self.app.focused
        self.query_one(Input).focus()

    @on(Input.Changed, "#event-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#event-filter")
    def _filter_submitted(self) -> None:
        self.action_leave_filter()

    def action_leave_filter(self) -> None:
        before, self._focus_before = self._focus_before, None
        if before is not None and before.is_attached:
            before.focus()
        else:
            self.screen.set_focus(None)
