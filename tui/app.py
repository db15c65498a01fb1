"""``distlab lab LAB``: watch a lab's cluster live, and break it with a key.

In live placements the cluster runs in a process of its own (``tui._process_bridge``), so that
it has a core of its own; in the simulator, in a thread of this process, on virtual time that
the screen paces (``tui._bridge``). Either way its events pile up in a list; about 15 times a
second the app folds them into a ``ClusterModel`` and redraws the widgets from it
(``tui.widgets``), so a busy cluster never waits on the screen. Keys send commands the other
way; a refused command shows as a notification.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Header, OptionList
from textual.widgets.option_list import Option

from distlab._cluster import PLACEMENTS, Placement
from distlab._errors import ConfigError, DistlabError
from distlab._labs import Lab
from distlab.grading._graded import GradedTest
from distlab.grading._grader import discover
from distlab.tui._bridge import ClusterBridge, GradedVerdict, run_graded_test
from distlab.tui._model import ClusterModel
from distlab.tui._process_bridge import ProcessBridge
from distlab.tui.widgets import ClusterPanes, EventLog, HelpScreen, KeysFooter, NodesTable

REFRESH_INTERVAL = 1 / 15  # seconds between redraws: batching is what keeps the cluster fast
DROP_STEP = 0.1
DELAY_STEP = 0.010  # seconds
JITTER_STEP = 0.005  # seconds
#: Keys that are not the app's bindings, for the help screen.
OTHER_KEYS = (
    ("↑ ↓, mouse", "select a node (in the nodes table)"),
    ("tab", "move the focus: nodes table, filter line, log"),
    ("enter, esc", "leave the filter line"),
    ("pgup, end", "scroll the log (it holds still while scrolled up; end follows again)"),
)


def _points(points: float) -> str:
    return f"{points:g} point{'' if points == 1 else 's'}"


class GradedTestPicker(ModalScreen[str | None]):
    """Pick one of the lab's graded tests (Enter), or none (Escape)."""

    DEFAULT_CSS = """
    GradedTestPicker {
        align: center middle;
        OptionList { width: 90%; max-width: 100; height: auto; max-height: 80%; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "cancel")]

    def __init__(self, tests: list[GradedTest]) -> None:
        super().__init__()
        self._tests = tests

    def compose(self) -> ComposeResult:
        options = OptionList(
            *(
                Option(f"{t.name} ({_points(t.points)}): {t.description}", id=t.name)
                for t in self._tests
            )
        )
        options.border_title = "run which graded test? (enter runs, esc cancels)"
        yield options

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class LabApp(App[None]):
    """The live lab: nodes, messages, events and network, with keys to break the cluster."""

    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "crash", "crash", tooltip="crash the selected node"),
        Binding("r", "restart", "restart", tooltip="restart the selected node"),
        Binding("p", "pause", "pause", tooltip="pause the selected node, or resume it"),
        Binding("i", "isolate", "isolate", tooltip="isolate the selected node from all others"),
        Binding("h", "heal", "heal", tooltip="heal every partition"),
        Binding("d", f"fault('drop', {-DROP_STEP})", "drop-", tooltip="drop rate - 0.1"),
        Binding("D", f"fault('drop', {DROP_STEP})", "drop+", tooltip="drop rate + 0.1"),
        Binding("l", f"fault('delay', {-DELAY_STEP})", "delay-", tooltip="delay - 10 ms"),
        Binding("L", f"fault('delay', {DELAY_STEP})", "delay+", tooltip="delay + 10 ms"),
        Binding("j", f"fault('jitter', {-JITTER_STEP})", "jitter-", tooltip="jitter - 5 ms"),
        Binding("J", f"fault('jitter', {JITTER_STEP})", "jitter+", tooltip="jitter + 5 ms"),
        Binding("t", "test", "test", tooltip="run one of the lab's graded tests"),
        Binding(
            "slash", "filter", "filter", tooltip="filter the log: node, type, kind; -word hides"
        ),
        Binding("question_mark", "help", "help", tooltip="this help"),
        Binding("q", "quit", "quit", tooltip="stop the cluster and quit"),
    ]

    def __init__(
        self, lab: Lab, *, impl: Path | None, placement: Placement, seed: int, rate: float = 1.0
    ) -> None:
        super().__init__()
        self.lab = lab
        self.impl = impl
        self.seed = seed
        bridge = ClusterBridge if placement == "sim" else ProcessBridge
        self.bridge: ClusterBridge | ProcessBridge = bridge(
            lab, impl=impl, placement=placement, seed=seed, rate=rate
        )
        self.model = ClusterModel(parts=lab.parts, chart=lab.chart)
        #: The last graded test's verdict (None until one has run).
        self.test_verdict: GradedVerdict | None = None
        self.title = f"{lab.slug} ({placement})"
        self.sub_title = "demo scenario running"
        self._tests: list[GradedTest] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ClusterPanes(fields=self.lab.columns, chart=self.lab.chart)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(NodesTable).focus()
        self.bridge.start()
        self.set_interval(REFRESH_INTERVAL, self.refresh_from_cluster)

    async def on_unmount(self) -> None:
        await self.bridge.stop()

    def refresh_from_cluster(self) -> None:
        """Fold the events since the last refresh into the model and redraw (on a timer)."""
        if not self.is_running:  # events may still arrive while the widgets are being removed
            return
        # A hang first: the crash that stops the hung node comes after it, and must win.
        hung = self.bridge.check_alive()
        if hung is not None and self.bridge.hung_node is not None:
            self.model.mark_hung(self.bridge.hung_node, hung)
        events = self.bridge.take_events()
        if events:
            self.model.apply_all(events)
        now = self.bridge.now()
        if now is not None:
            self.model.advance(now)  # so a quiet cluster shows 0 msg/s, not the past
        if events or now is not None:
            self.show_model()
        for notice in self.bridge.take_notices():
            self.notify(notice.text, severity=notice.severity, timeout=8)
        verdict = self.bridge.verdict
        if verdict is not None:
            word = "PASS" if verdict.passed else "FAIL"
            self.sub_title = f"demo {word}: {verdict.summary}"
        if hung is not None:
            self.sub_title = f"HUNG, stopped: {hung}"

    def show_model(self) -> None:
        """Redraw every pane from ``self.model``."""
        self.query_one(ClusterPanes).show(self.model)

    # -- node keys -----------------------------------------------------------------------------

    def _selected(self) -> str | None:
        node = self.query_one(NodesTable).selected_node
        if node is None:
            self.notify("no node selected yet", severity="warning")
        return node

    def action_crash(self) -> None:
        if node := self._selected():
            self.bridge.crash(node)

    def action_restart(self) -> None:
        if node := self._selected():
            self.bridge.restart(node)

    def action_pause(self) -> None:
        if node := self._selected():
            self.bridge.toggle_pause(node)

    def action_isolate(self) -> None:
        if node := self._selected():
            self.bridge.isolate(node)

    # -- network keys --------------------------------------------------------------------------

    def action_heal(self) -> None:
        self.bridge.heal()

    def action_fault(self, name: str, step: float) -> None:
        self.bridge.adjust_fault(name, step)

    # -- everything else -----------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one(EventLog).focus_filter()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS, extra=OTHER_KEYS, title="distlab lab: keys"))

    def action_test(self) -> None:
        try:
            if self._tests is None:
                self._tests = discover(self.lab)
        except Exception as exc:  # a lab's broken test file must not take the screen down
            words = str(exc) if isinstance(exc, DistlabError) else f"{type(exc).__name__}: {exc}"
            self.notify(f"cannot list the lab's graded tests: {words}", severity="error")
            return
        self.push_screen(GradedTestPicker(self._tests), self._run_test)

    def _run_test(self, name: str | None) -> None:
        if name is not None:
            self.run_worker(self._grade(name), group="grade", exclusive=True)

    async def _grade(self, name: str) -> None:
        self.notify(f"{name}: running on seed {self.seed}…", timeout=4)
        try:
            verdict = await run_graded_test(self.lab, name, impl=self.impl, seed=self.seed)
        except OSError as exc:  # the grader could not even be started
            verdict = GradedVerdict(name, False, f"could not run the grader: {exc}")
        self.test_verdict = verdict
        self.notify(
            verdict.summary,
            title=f"{name}: {'PASS' if verdict.passed else 'FAIL'}",
            severity="information" if verdict.passed else "error",
            timeout=20,
        )


def run_lab_app(lab: Lab, *, impl: Path | None, placement: str, seed: int) -> None:
    """Open the live lab; returns when the student quits.

    ``placement`` is ``"inprocess"``, ``"processes"`` or ``"sim"``. Raises ``DistlabError`` before
    opening the screen if the placement is unknown or ``impl`` cannot be loaded.
    """
    if placement not in PLACEMENTS:
        raise ConfigError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    LabApp(lab, impl=impl, placement=placement, seed=seed).run()
