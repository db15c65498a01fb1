"""Replay a recorded trace on the TUI's screen: `distlab replay TRACE --tui`.

The replay screen shows the live app's widgets, fed by a ``ClusterModel`` rebuilt at a cursor:
the cursor is a number of events, and the screen shows what the live app showed right after the
cursor-th event of the trace. A scrubber at the bottom shows where the cursor is.

The stepping logic is pure and tested without a terminal: ``model_at`` (the model after the first
``cursor`` events), ``cursor_at_time`` (the cursor for a time), ``failure_cursor`` (the cursor at
the failure), and ``Timeline``, which answers ``model_at`` fast on long traces by keeping a copy
of the model every ``CHECKPOINT_EVERY`` events.
"""

from __future__ import annotations

import bisect
import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Header, Input, Label, Static

from distlab import read_trace
from distlab._describe import describe
from distlab._errors import DistlabError
from distlab._labs import ChartSpec, Lab, PartSpec, find_lab
from distlab._trace import (
    CHECK_FAILED,
    CHECK_PASSED,
    CRASH,
    DELIBERATE_CRASH,
    RUN_END,
    TraceEvent,
    read_trace_file,
)
from distlab.tui._model import ClusterModel
from distlab.tui.widgets import ClusterPanes, EventLog, HelpScreen, KeysFooter, NodesTable

#: A copy of the model is kept every this many events, so that any cursor is at most this many
#: events of folding away (folding runs at about 700,000 events/s; a copy takes about 3 ms).
CHECKPOINT_EVERY = 2000
#: Events per big step (shift+arrow, page up/down).
BIG_STEP = 50
#: A run_end whose reason matches this is a failure (the fallback when nothing else is).
FAILED_END = re.compile(r"fail|error|interrupt|crash", re.IGNORECASE)


# -- the pure part --------------------------------------------------------------------------------


def model_at(
    events: Sequence[TraceEvent],
    cursor: int,
    *,
    parts: Sequence[PartSpec] = (),
    chart: ChartSpec | None = None,
) -> ClusterModel:
    """The model after the first ``cursor`` events (0: before anything happened); ``parts``,
    ``chart``: the lab's (``trace_lab``)."""
    model = ClusterModel(parts=parts, chart=chart)
    model.apply_all(events[: max(0, cursor)])
    return model


def trace_lab(events: Sequence[TraceEvent]) -> Lab | None:
    """The lab the trace came from (its run_start names it), if this checkout has it."""
    first = events[0] if events else None
    slug = first.get("lab") if first is not None and first.kind == "run_start" else None
    if not isinstance(slug, str):
        return None
    try:
        return find_lab(slug)
    except DistlabError:  # a trace from a lab this checkout does not have: the plain screen
        return None


def lab_columns(events: Sequence[TraceEvent]) -> tuple[str, ...]:
    """The status columns of the lab the trace came from (its run_start names it), if known."""
    lab = trace_lab(events)
    return lab.columns if lab is not None else ()


def cursor_at_time(events: Sequence[TraceEvent], t: float) -> int:
    """The cursor that shows the trace at time ``t``: just after the last event at or before ``t``.

    Before the first event this is 0. Events of the processes placement may be a few
    microseconds out of order; an event counts as "before t" only if every event before it does.
    """
    latest = 0.0
    reached = 0
    for i, event in enumerate(events):
        latest = max(latest, event.t)
        if latest > t:
            return reached
        reached = i + 1
    return reached


def failure_cursor(events: Sequence[TraceEvent]) -> int | None:
    """The cursor just after the failure, or None if the trace shows none.

    The failure is the verdict (the first ``check_failed`` event) if the trace has one (or,
    if the verdict names the stretch where the run went wrong, its ``until``: a
    linearizability failure's window ends with the answer no order explains); a trace
    whose verdict is a pass (``check_passed``) has none; else it is the first crash a node
    brought on itself (a crash ordered on purpose is part of the story, not a failure), else a
    ``run_end`` whose reason says the run failed.
    """
    for i, event in enumerate(events):
        if event.kind == CHECK_FAILED:
            until = event.get("until")
            window_end = cursor_at_time(events, until) if isinstance(until, int | float) else 0
            return window_end or i + 1
    if any(event.kind == CHECK_PASSED for event in events):
        return None
    for i, event in enumerate(events):
        if event.kind == CRASH and not str(event.get("reason", "")).startswith(DELIBERATE_CRASH):
            return i + 1
    for i, event in enumerate(events):
        if event.kind == RUN_END and FAILED_END.search(str(event.get("reason", ""))):
            return i + 1
    return None


def time_at(events: Sequence[TraceEvent], cursor: int) -> float:
    """The time shown at a cursor: that of the last event shown (0 before the first)."""
    return events[cursor - 1].t if 0 < cursor <= len(events) else 0.0


def _copy_model(model: ClusterModel) -> ClusterModel:
    # Trace events are immutable: share them instead of copying thousands of them.
    memo: dict[int, Any] = {id(event): event for event in model.events}
    return copy.deepcopy(model, memo)


class Timeline:
    """``model_at`` for one trace, fast at any cursor: checkpoints every ``every`` events.

    Checkpoints are made the first time a cursor past them is asked for. Every model returned is
    the caller's own: changing it does not change the checkpoints.
    """

    def __init__(
        self,
        events: Sequence[TraceEvent],
        *,
        every: int = CHECKPOINT_EVERY,
        parts: Sequence[PartSpec] = (),
        chart: ChartSpec | None = None,
    ) -> None:
        """``parts``, ``chart``: the lab's (``trace_lab``), for every model it makes."""
        if every < 1:
            raise ValueError(f"checkpoints every {every} events: must be at least 1")
        self.events = events
        self.every = every
        # [k]: after k * every events
        self._checkpoints: list[ClusterModel] = [ClusterModel(parts=parts, chart=chart)]
        self._t_max: list[float] = []  # running maximum of event times, for cursor_at_time
        latest = 0.0
        for event in events:
            latest = max(latest, event.t)
            self._t_max.append(latest)

    def __len__(self) -> int:
        return len(self.events)

    def model_at(self, cursor: int) -> ClusterModel:
        cursor = self.clamp(cursor)
        k = cursor // self.every
        while len(self._checkpoints) <= k:
            n = len(self._checkpoints)
            model = _copy_model(self._checkpoints[-1])
            model.apply_all(self.events[(n - 1) * self.every : n * self.every])
            self._checkpoints.append(model)
        model = _copy_model(self._checkpoints[k])
        model.apply_all(self.events[k * self.every : cursor])
        return model

    def advance(self, model: ClusterModel, cursor: int, new: int) -> ClusterModel:
        """The model at ``new``, given ``model`` at ``cursor``: folds forward in place if it can."""
        new = self.clamp(new)
        if cursor <= new and new - cursor <= self.every:
            model.apply_all(self.events[cursor:new])
            return model
        return self.model_at(new)

    def clamp(self, cursor: int) -> int:
        return max(0, min(cursor, len(self.events)))

    def cursor_at_time(self, t: float) -> int:
        """As ``cursor_at_time(events, t)``, by bisection."""
        return bisect.bisect_right(self._t_max, t)

    def time_at(self, cursor: int) -> float:
        return time_at(self.events, cursor)

    @property
    def end_time(self) -> float:
        return self._t_max[-1] if self._t_max else 0.0


# -- the screen ---------------------------------------------------------------------------------


class Scrubber(Static):
    """Where the cursor is: a bar over the whole trace, the time, the event number, the event."""

    DEFAULT_CSS = """
    Scrubber {
        height: 2;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cursor = 0
        self.total = 0
        self.t = 0.0
        self.failure: int | None = None
        self.current: TraceEvent | None = None

    def point(
        self,
        cursor: int,
        total: int,
        *,
        t: float,
        failure: int | None = None,
        current: TraceEvent | None = None,
    ) -> None:
        """Show the cursor at ``cursor`` of ``total`` events, at time ``t``."""
        self.cursor, self.total, self.t = cursor, total, t
        self.failure, self.current = failure, current
        self.refresh()

    @property
    def label(self) -> str:
        return f"t={self.t:.3f} s · event {self.cursor}/{self.total}"

    def bar(self, width: int) -> Text:
        """The bar alone, ``width`` cells: done ━, to come ─, the cursor ●, the failure ✗."""
        filled = round(width * self.cursor / self.total) if self.total else 0
        marks = ["━"] * filled + ["─"] * (width - filled)
        styles = ["bold cyan"] * filled + ["dim"] * (width - filled)
        if self.failure is not None and self.total:
            at = min(width - 1, max(0, round(width * self.failure / self.total) - 1))
            marks[at], styles[at] = "✗", "bold red"
        if self.cursor and width:
            at = min(width - 1, max(0, filled - 1))
            marks[at], styles[at] = "●", "bold"
        text = Text()
        for mark, style in zip(marks, styles, strict=True):
            text.append(mark, style)
        return text

    def render(self) -> Text:
        label = f" {self.label}"
        width = max(10, self.content_size.width - len(label) - 2)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("▕", "dim")
        text.append_text(self.bar(width))
        text.append("▏", "dim")
        text.append(label, "bold")
        text.append("\n")
        if self.current is None:
            text.append("before the first event: → steps, f jumps to the failure", "dim")
        else:
            text.append_text(describe(self.current).split("\n")[0])
        return text


class JumpToTime(ModalScreen[float | None]):
    """Asks for a time in seconds; dismisses with it, or with None on escape."""

    DEFAULT_CSS = """
    JumpToTime {
        align: center middle;
        & > Vertical {
            width: 50;
            height: auto;
            border: round $primary;
            border-title-align: left;
            background: $surface;
            padding: 0 1;
        }
        Input { margin: 1 0 0 0; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, end_time: float) -> None:
        super().__init__()
        self.end_time = end_time

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "jump to a time"
            box.border_subtitle = "enter jumps · esc cancels"
            yield Label(f"seconds since the run started (it ends at {self.end_time:.3f}):")
            yield Input(placeholder="e.g. 1.5", type="number", id="seconds")
            yield Label("", id="problem")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(float(event.value))
        except ValueError:
            self.query_one("#problem", Label).update(
                Text(f"not a number of seconds: {event.value!r}", "red")
            )

    def action_cancel(self) -> None:
        self.dismiss(None)


#: The step keys are priority bindings: the nodes table and the log would take the arrows,
#: page and home/end keys for themselves otherwise. They give way to the event log's filter line.
STEP_ACTIONS = frozenset({"step", "first", "last"})


class ReplayApp(App[None]):
    """A recorded trace on the live app's widgets, at a cursor moved with the keys.

    ``cursor`` is the number of events shown (0: before the first; ``len(events)``: all of them);
    ``model`` is the ``ClusterModel`` after those events, which every widget shows.
    """

    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "step(1)", "step", tooltip="one event on", priority=True),
        Binding("left", "step(-1)", "back", tooltip="one event back", priority=True),
        Binding(
            "shift+right,pagedown",
            f"step({BIG_STEP})",
            f"+{BIG_STEP}",
            tooltip=f"{BIG_STEP} events on",
            priority=True,
        ),
        Binding(
            "shift+left,pageup",
            f"step({-BIG_STEP})",
            f"-{BIG_STEP}",
            tooltip=f"{BIG_STEP} events back",
            priority=True,
        ),
        Binding(
            "home", "first", "start", tooltip="the start, before the first event", priority=True
        ),
        Binding("end", "last", "end", tooltip="the end, after the last event", priority=True),
        Binding("g", "goto_time", "time", tooltip="jump to a time (seconds)"),
        Binding("f", "failure", "failure", tooltip="jump to the failure (check, crash)"),
        Binding("slash", "filter", "filter", tooltip="filter the event log"),
        Binding("question_mark", "help", "help", tooltip="this help"),
        Binding("q", "quit", "quit", tooltip="quit"),
    ]
    #: Keys that are not the app's bindings, for the help screen.
    OTHER_KEYS = (
        ("tab", "move the focus: nodes table, filter line, log"),
        ("enter, esc", "leave the filter line"),
        ("↑ ↓, mouse wheel", "scroll the log (when it has the focus)"),
    )

    def __init__(
        self, path: Path, events: Sequence[TraceEvent] | None = None, *, cursor: int = 0
    ) -> None:
        """Replay the trace at ``path`` (read now), or ``events`` if given (``path`` names them),
        starting at ``cursor``."""
        super().__init__()
        self.start_cursor = cursor
        self.path = path
        self.events: Sequence[TraceEvent] = list(read_trace(path)) if events is None else events
        self.lab = trace_lab(self.events)
        parts = self.lab.parts if self.lab is not None else ()
        self.chart = self.lab.chart if self.lab is not None else None
        self.columns = self.lab.columns if self.lab is not None else ()
        self.timeline = Timeline(self.events, parts=parts, chart=self.chart)
        self.failure = failure_cursor(self.events)
        self.cursor = 0
        self.model = ClusterModel(parts=parts, chart=self.chart)
        self.title = f"distlab replay {path.name}"
        self.sub_title = self._describe_run()

    def _describe_run(self) -> str:
        words = [f"{len(self.events):,} events", f"{self.timeline.end_time:.3f} s"]
        first = self.events[0] if self.events else None
        if first is not None and first.kind == "run_start":
            words[:0] = [f"seed {first.get('seed')}", str(first.get("placement", ""))]
        return " · ".join(words)

    def compose(self) -> ComposeResult:
        yield Header()
        # Laid out as on the live screen, with the lab's columns and chart.
        yield ClusterPanes(fields=self.columns, chart=self.chart)
        yield Scrubber()
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(NodesTable).focus()
        self.show()
        if self.start_cursor:
            # Once the panes have their size: the event log then scrolls to the cursor's event.
            self.call_after_refresh(self._go_to_start)

    def _go_to_start(self) -> None:
        if self.cursor == 0:  # unless a key has moved the cursor already
            self.move_to(self.start_cursor)

    # -- moving the cursor ------------------------------------------------------------------------

    def move_to(self, cursor: int) -> None:
        """Show the trace after ``cursor`` events (clamped to the trace)."""
        cursor = self.timeline.clamp(cursor)
        self.model = self.timeline.advance(self.model, self.cursor, cursor)
        self.cursor = cursor
        self.show()

    def show(self) -> None:
        """Redraw every widget from the model at the cursor."""
        # The event log follows the cursor: its newest event is the cursor's, brought into view
        # even if the student had scrolled the log up (moving the cursor asks to see it).
        self.query_one(ClusterPanes).show(self.model, follow=True)
        self.query_one(Scrubber).point(
            self.cursor,
            len(self.events),
            t=self.time,
            failure=self.failure,
            current=self.events[self.cursor - 1] if self.cursor else None,
        )

    @property
    def time(self) -> float:
        """The time at the cursor: that of the last event shown."""
        return self.timeline.time_at(self.cursor)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the filter line, the arrow and home/end keys move its text cursor instead.
        return not (action in STEP_ACTIONS and isinstance(self.focused, Input))

    def action_step(self, events: int) -> None:
        self.move_to(self.cursor + events)

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(len(self.events))

    def action_goto_time(self) -> None:
        self.push_screen(JumpToTime(self.timeline.end_time), self._jump_to_time)

    def _jump_to_time(self, t: float | None) -> None:
        if t is not None:
            self.move_to(self.timeline.cursor_at_time(t))

    def action_failure(self) -> None:
        if self.failure is None:
            self.notify("no failure in this trace", severity="warning")
            return
        self.move_to(self.failure)

    # -- everything else ---------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one(EventLog).focus_filter()

    def action_help(self) -> None:
        self.push_screen(
            HelpScreen(self.BINDINGS, extra=self.OTHER_KEYS, title="distlab replay: keys")
        )


def read_events(path: Path) -> list[TraceEvent]:
    """The events of a trace file; ``DistlabError`` in plain words if it is not one."""
    events, _ = read_trace_file(path)
    return events


def run_replay_app(path: Path, *, at: float | None = None) -> None:
    """Open the replay screen on the trace at ``path``; returns when the student quits.

    The cursor starts before the first event, or with ``at`` (seconds) at the last event at or
    before that time. Raises ``DistlabError`` before opening the screen if the file is missing
    or is not a trace.
    """
    events = read_events(path)
    cursor = 0 if at is None else cursor_at_time(events, at)
    ReplayApp(path, events, cursor=cursor).run()
