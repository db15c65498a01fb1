"""The live TUI (``distlab lab``): every key drives the real runtime, and the widgets draw a model.

Pilot tests are sync functions that call ``asyncio.run``: pytest-trio's trio_mode would otherwise
claim them (see the toolchain notes). Each waits on explicit conditions, bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import RichLog
from textual.widgets.data_table import CellDoesNotExist

from distlab._cluster import Cluster, Placement
from distlab._errors import ConfigError
from distlab._labs import ChartSpec, Lab, PartSpec, find_lab, load_lab
from distlab._trace import TraceEvent
from distlab.tui._bridge import ClusterBridge
from distlab.tui._model import ClusterModel
from distlab.tui._process_bridge import ProcessBridge
from distlab.tui.app import GradedTestPicker, LabApp
from distlab.tui.widgets import (
    ClusterPanes,
    CountChart,
    EventFilter,
    EventLog,
    HelpScreen,
    NetworkPanel,
    NodesTable,
    SpaceTime,
    chart_words,
    draw_chart,
    draw_space_time,
)
from distlab.tui.widgets._network import network_table

WAIT = 10.0  # seconds: a generous bound on things that normally take milliseconds
SIZE = (100, 30)

AppTest = Callable[[LabApp, Pilot[None]], Awaitable[None]]


def quiet_lab_zero() -> Lab:
    """Lab 0 with a demo that leaves the network alone: these tests change it with keys."""
    return replace(find_lab("0"), scenario_file=Path(__file__).parent / "quiet_ping_demo.py")


def run_app(test: AppTest, *, placement: Placement = "inprocess") -> LabApp:
    """Run lab 0 in the app, wait until both nodes are up on the screen, then run ``test``."""

    async def main() -> LabApp:
        app = LabApp(quiet_lab_zero(), impl=None, placement=placement, seed=1)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: shown_states(app) == {"server": "up", "client": "up"})
            await test(app, pilot)
        return app

    return asyncio.run(main())


async def until(
    pilot: Pilot[None], condition: Callable[[], bool], what: str = "", *, within: float = WAIT
) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


def shown_states(app: LabApp) -> dict[str, str]:
    return {name: app.model.shown_state(name) for name in app.model.nodes}


def cluster(app: LabApp) -> Cluster:
    """The cluster itself: in the simulator it runs in the app's process (live, in its own)."""
    assert isinstance(app.bridge, ClusterBridge) and app.bridge.cluster is not None
    return app.bridge.cluster


def events(app: LabApp, kind: str, **match: Any) -> list[TraceEvent]:
    return [
        e
        for e in app.model.events
        if e.kind == kind and all(e.get(k) == v for k, v in match.items())
    ]


def table_row(app: LabApp, name: str) -> list[str]:
    table = app.query_one(NodesTable)
    return [cell.plain for cell in table.get_row(name)]


def notifications(app: LabApp) -> list[str]:
    return [n.message for n in app._notifications]


# -- the live app --------------------------------------------------------------------------------


def test_the_app_runs_the_lab_and_shows_its_verdict() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await until(pilot, lambda: app.bridge.verdict is not None, "the demo's verdict")
        assert app.bridge.verdict is not None and app.bridge.verdict.passed
        await until(pilot, lambda: "PASS" in app.sub_title, "the verdict in the header")
        assert app.query_one(NodesTable).selected_node == "server"  # the first node
        await until(pilot, lambda: app.model.nodes["client"].status.get("done") is True)
        await until(pilot, lambda: "pongs=5" in table_row(app, "client")[2])  # its status
        assert app.model.totals["deliver"] >= 10
        space_time = str(app.query_one(SpaceTime).render())
        assert "▶" in space_time and "◀" in space_time and "ping" in space_time
        log = app.query_one("#event-lines", RichLog)
        assert any("pong" in line.text for line in log.lines)

    run_app(check)


def test_a_demo_that_reads_the_trace_passes_in_the_app_and_then_keeps_no_trace() -> None:
    """Lab 2's demo checks its verdict from the trace; the app keeps it only while it runs."""

    async def main() -> LabApp:
        app = LabApp(find_lab("2"), impl=None, placement="sim", seed=1)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.bridge.verdict is not None, "the demo's verdict")
            assert app.bridge.verdict is not None and app.bridge.verdict.passed, app.bridge.verdict
            assert cluster(app).trace.events == []  # from now on, only the screen keeps events
        return app

    asyncio.run(main())


def test_k_crashes_the_selected_node_and_r_restarts_it() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await pilot.press("k")
        await until(pilot, lambda: app.model.shown_state("server") == "crashed", "the crash")
        await until(pilot, lambda: bool(events(app, "crash", node="server")))
        await until(pilot, lambda: table_row(app, "server")[1] == "crashed")
        assert app.model.shown_state("client") == "up"
        await pilot.press("r")
        await until(pilot, lambda: bool(events(app, "restart", node="server")), "the restart")
        assert app.model.shown_state("server") == "up"
        await until(pilot, lambda: table_row(app, "server")[1] == "up")

    run_app(check)


def test_arrow_keys_select_another_node_for_the_keys() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await pilot.press("down")
        assert app.query_one(NodesTable).selected_node == "client"
        assert table_row(app, "client")[0].startswith("▶")  # visible without colour
        await pilot.press("k")
        await until(pilot, lambda: bool(events(app, "crash", node="client")), "the crash")
        assert app.model.shown_state("server") == "up"

    run_app(check)


def test_p_pauses_the_selected_node_then_resumes_it() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await pilot.press("p")
        await until(pilot, lambda: bool(events(app, "pause", node="server")), "the pause")
        assert app.model.shown_state("server") == "paused"
        await until(pilot, lambda: table_row(app, "server")[1] == "paused")
        await pilot.press("p")
        await until(pilot, lambda: bool(events(app, "resume", node="server")), "the resume")
        assert app.model.shown_state("server") == "up"

    run_app(check)


def test_a_refused_command_is_a_notification_not_a_crash() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await pilot.press("k")
        await until(pilot, lambda: app.model.shown_state("server") == "crashed", "the crash")
        await pilot.press("p")  # a crashed node cannot be paused
        await until(
            pilot,
            lambda: any("cannot pause server" in n for n in notifications(app)),
            "the refusal",
        )
        assert app.is_running and not app.bridge.finished

    run_app(check)


def test_i_isolates_the_selected_node_and_h_heals() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        # (the demo changes the network's faults too: look for these two changes among them)
        def changes() -> list[str]:
            return [str(e["change"]) for e in events(app, "fault")]

        await pilot.press("i")
        await until(pilot, lambda: "partition: server isolated" in changes(), "the fault event")
        assert app.model.faults.cuts and app.model.shown_state("server") == "cut off"
        await until(pilot, lambda: table_row(app, "server")[1] == "cut off")
        await pilot.press("h")
        await until(pilot, lambda: "heal all partitions" in changes(), "the heal")
        assert app.model.faults.cuts == ()
        await until(pilot, lambda: app.model.shown_state("server") == "up", "the server up")

    run_app(check)


def test_fault_keys_change_drop_delay_and_jitter() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        def default(name: str) -> float:
            value: float = getattr(app.model.faults.default, name)
            return value

        def last_fault(name: str) -> float:
            value: float = events(app, "fault")[-1]["faults"]["default"][name]
            return value

        def shows(name: str, wanted: float) -> Callable[[], bool]:
            return lambda: bool(events(app, "fault")) and last_fault(name) == wanted

        for key, name, wanted in (
            ("D", "drop", 0.1),
            ("D", "drop", 0.2),
            ("d", "drop", 0.1),
            ("L", "delay", 0.01),
            ("J", "jitter", 0.005),
            ("l", "delay", 0.0),
            ("j", "jitter", 0.0),
        ):
            await pilot.press(key)
            await until(pilot, shows(name, wanted), f"{name}={wanted} after {key}")
            assert default(name) == wanted
        await pilot.press("d")
        await until(pilot, shows("drop", 0.0))
        faults_before = len(events(app, "fault"))
        # Never below zero: nothing changes, so no event. Commands run in order, so once the
        # next key's change shows, the one before it has run too.
        await pilot.press("d", "J")
        await until(pilot, shows("jitter", 0.005))
        assert len(events(app, "fault")) == faults_before + 1

    run_app(check)


def test_question_mark_opens_the_help_and_any_key_closes_it() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help to close")

    run_app(check)


def test_slash_filters_the_event_log() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await pilot.press("slash", *"client", "enter")
        log = app.query_one(EventLog)
        assert log.filter.nodes == {"client"}
        assert app.focused is app.query_one(NodesTable)  # Enter gives the focus back
        await pilot.press("k")  # crashes the server: the filtered log shows only the client
        await until(pilot, lambda: bool(events(app, "crash", node="server")))
        lines = [line.text for line in app.query_one("#event-lines", RichLog).lines]
        assert lines and not any("CRASHED" in line for line in lines)

    run_app(check)


def test_q_quits_and_stops_the_cluster() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await pilot.press("q")

    app = run_app(check)
    assert app.bridge.finished
    ends = [e for e in [*app.model.events, *app.bridge.take_events()] if e.kind == "run_end"]
    assert len(ends) == 1  # it stopped, and said so
    assert isinstance(app.bridge, ProcessBridge) and app.bridge.exit_code == 0  # and it is gone


def test_a_node_that_never_yields_is_named_and_stopped_and_the_screen_stays_live() -> None:
    """The cluster runs in its own thread: a handler stuck in a loop is found within a few
    seconds, named, and stopped (the node crashes); the screen never freezes, and q quits."""
    impl = Path(__file__).resolve().parent / "impls" / "loops_forever.py"

    async def main() -> tuple[LabApp, float]:
        app = LabApp(find_lab("0"), impl=impl, placement="inprocess", seed=1)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.bridge.hung is not None, "the hang")
            assert app.bridge.hung is not None and app.bridge.hung_node == "server"
            assert "node server in on_ping (a 'ping' from client)" in app.bridge.hung
            assert "loops_forever.py:9" in app.bridge.hung
            # Said in a notification (which goes away after a while: look now, not later).
            await until(
                pilot,
                lambda: any("loops_forever.py:9" in text for text in notifications(app)),
                "the notification",
            )
            await until(pilot, lambda: shown_states(app).get("server") == "crashed", "the stop")
            assert app.model.nodes["server"].last_crash.startswith("HungNodeStopped in on_ping")
            assert app.sub_title.startswith("HUNG, stopped: node server in on_ping")
            began = time.monotonic()
            await pilot.press("q")
        return app, time.monotonic() - began

    app, quitting = asyncio.run(main())
    assert quitting < WAIT
    assert app.bridge.join(WAIT)  # the cluster stopped, its thread ended


def test_sim_placement_runs_on_virtual_time_and_obeys_the_keys() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        assert app.model.placement == "sim"
        await pilot.press("k")
        await until(pilot, lambda: bool(events(app, "crash", node="server")), "the crash")
        await until(pilot, lambda: app.bridge.verdict is not None, "the demo's verdict")

    run_app(check, placement="sim")


def test_lab_4_keeps_its_leader_under_the_screen_in_the_simulator() -> None:
    """The screen never starves the cluster: after the demo's failover, the term holds.

    Virtual time (paced 20 times faster than the wall) moves only while every node waits, so a
    redraw can slow the run but never make a heartbeat late: the same seed elects the same
    leaders with and without the screen, however busy the machine.
    """

    def term(app: LabApp) -> int:
        return max(int(n.status.get("term", 0)) for n in app.model.nodes.values())

    async def main() -> tuple[int, int]:
        app = LabApp(find_lab("4"), impl=None, placement="sim", seed=7, rate=20.0)
        async with app.run_test(size=SIZE) as pilot:
            # (bounds far above the 2 s of wall time this takes on an idle machine)
            now = app.bridge.now
            await until(pilot, lambda: (now() or 0) > 12.0, "12 virtual s", within=6 * WAIT)
            after_failover = term(app)
            await until(pilot, lambda: (now() or 0) > 40.0, "40 virtual s", within=6 * WAIT)
            return after_failover, term(app)

    after_failover, later = asyncio.run(main())
    assert after_failover >= 2  # the demo crashed the first leader; another was elected
    assert later == after_failover  # and then nobody started an election for 28 s


def test_t_runs_a_graded_test_and_shows_its_verdict() -> None:
    async def check(app: LabApp, pilot: Pilot[None]) -> None:
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, GradedTestPicker), "the test picker")
        await pilot.press("enter")  # the first test
        await until(pilot, lambda: app.test_verdict is not None, "the graded verdict")
        assert app.test_verdict is not None
        assert app.test_verdict.test == "test_all_pongs_arrive"
        assert app.test_verdict.passed, app.test_verdict.summary
        await until(pilot, lambda: any("2/2 points" in n for n in notifications(app)))

    run_app(check)


# -- the widgets, from a hand-built model --------------------------------------------------------


def hand_built_model() -> ClusterModel:
    """Two nodes, a message of each fate, a duplicate, and the server isolated."""
    faults: dict[str, Any] = {"default": {"drop": 0.3}, "overrides": [], "cuts": []}
    isolated = {**faults, "cuts": [{"cut": "isolate", "node": "server"}]}
    raw: list[tuple[str, dict[str, Any]]] = [
        ("run_start", {"seed": 7, "placement": "sim", "nodes": {"a": "a", "server": "server"}}),
        ("start", {"node": "a", "role": "a", "incarnation": 1, "port": 1, "cls": "A"}),
        ("start", {"node": "server", "role": "server", "incarnation": 1, "port": 2, "cls": "S"}),
        ("send", {"src": "a", "dest": "server", "mid": "a/1/1", "body": {"type": "ping"}}),
        ("deliver", {"src": "a", "dest": "server", "mid": "a/1/1", "type": "ping", "copy": 0}),
        ("send", {"src": "server", "dest": "a", "mid": "server/1/1", "body": {"type": "pong"}}),
        ("duplicate", {"src": "server", "dest": "a", "mid": "server/1/1", "type": "pong"}),
        ("deliver", {"src": "server", "dest": "a", "mid": "server/1/1", "type": "pong", "copy": 0}),
        ("deliver", {"src": "server", "dest": "a", "mid": "server/1/1", "type": "pong", "copy": 1}),
        ("send", {"src": "a", "dest": "server", "mid": "a/1/2", "body": {"type": "ping"}}),
        (
            "drop",
            {
                "src": "a",
                "dest": "server",
                "mid": "a/1/2",
                "type": "ping",
                "copy": 0,
                "reason": "random",
            },
        ),
        ("send", {"src": "a", "dest": "server", "mid": "a/1/3", "body": {"type": "ping"}}),
        (
            "lost",
            {
                "src": "a",
                "dest": "server",
                "mid": "a/1/3",
                "type": "ping",
                "copy": 0,
                "reason": "down",
            },
        ),
        ("send", {"src": "a", "dest": "server", "mid": "a/1/4", "body": {"type": "ping"}}),
        ("status", {"node": "a", "fields": {"pongs": 1}}),
        ("timer", {"node": "a", "name": "tick"}),
        ("fault", {"change": "partition", "faults": isolated, "summary": "server isolated"}),
    ]
    model = ClusterModel()
    for seq, (kind, fields) in enumerate(raw, start=1):
        if kind == "run_start":
            fields = {**fields, "faults": faults, "config": {}, "summary": ""}
        if kind == "duplicate":
            fields = {**fields, "copy": 1}
        model.apply(TraceEvent(seq, seq / 10, kind, fields))
    return model


def test_space_time_draws_each_fate_with_its_own_mark_within_the_width() -> None:
    model = hand_built_model()
    for width in (30, 46, 80):
        drawing = draw_space_time(model, width, 20)
        rows = drawing.plain.splitlines()
        assert rows[0].split() == ["a", "server"]
        assert all(len(row) <= width for row in rows)
        delivered, pong, duplicate, dropped, lost, flying = rows[1:]
        assert "●" in delivered and "▶" in delivered
        assert "◀" in pong and "●" in pong  # the reply runs right to left
        assert "═" in duplicate and "◀" in duplicate and "dup" in duplicate
        assert "✗" in dropped and dropped.rstrip().endswith("ping")
        assert "✗" in lost
        assert "┄" in flying and "›" in flying
    short = draw_space_time(model, 40, 3).plain.splitlines()
    assert len(short) == 3 and "┄" in short[-1]  # the newest messages, when few rows fit


def test_event_filter_sorts_words_into_nodes_types_and_kinds() -> None:
    model = hand_built_model()
    events = list(model.events)
    only = EventFilter.parse("server pong", model.names)
    assert only.nodes == {"server"} and only.types == {"pong"}
    assert {e.seq for e in events if only.keeps(e)} == {6, 7, 8, 9}
    kinds = EventFilter.parse("drop lost", model.names)
    assert [e.kind for e in events if kinds.keeps(e)] == ["drop", "lost"]
    no_timers = EventFilter.parse("-timer -a", model.names)
    kept = [e for e in events if no_timers.keeps(e)]
    assert kept and all(e.kind != "timer" and e.node != "a" for e in kept)
    assert all(EventFilter.parse("", model.names).keeps(e) for e in events)


def test_network_panel_shows_faults_cuts_and_totals() -> None:
    console = Console(width=30, no_color=True, record=True)
    console.print(network_table(hand_built_model()))
    text = console.export_text()
    assert "0.3" in text and "server isolated" in text
    assert "5  delivered 3" in text and "1 dropped, 1 lost" in text
    assert "1 duplicated" in text


def with_large_counts(model: ClusterModel) -> ClusterModel:
    """``model`` after a long run: seven-digit message counts."""
    model.totals.update({"send": 1_234_567, "deliver": 1_234_500, "drop": 23_456, "lost": 345_678})
    model.totals["duplicate"] = 98_765
    return model


def test_network_panel_counts_shorten_instead_of_wrapping() -> None:
    from distlab.tui.widgets._network import compact

    assert [compact(n) for n in (0, 9999, 10_000, 99_499, 99_500, 123_456)] == [
        "0",
        "9999",
        "10k",
        "99k",
        "100k",
        "123k",
    ]
    assert [compact(n) for n in (1_234_567, 9_960_000, 12_345_678_901)] == ["1.2M", "10M", "12G"]
    console = Console(width=26, no_color=True, record=True)
    console.print(network_table(with_large_counts(hand_built_model())))
    lines = console.export_text().splitlines()
    assert [line.split()[0] for line in lines] == [
        "delay",
        "drop",
        "cuts",
        "sent",
        "failed",
        "copies",
    ]
    assert "1.2M" in lines[3] and "346k" in lines[4] and "98765 duplicated" in lines[5]


def test_every_line_of_the_network_pane_fits_at_80_and_120_columns() -> None:
    """A long run's counts (1,234,567 delivered) never wrap a row onto a second line."""
    from textual.app import App, ComposeResult

    class Panes(App[None]):
        def compose(self) -> ComposeResult:
            yield ClusterPanes()

    async def main(size: tuple[int, int]) -> None:
        app = Panes()
        async with app.run_test(size=size) as pilot:
            app.query_one(ClusterPanes).show(with_large_counts(hand_built_model()))
            await pilot.pause()
            panel = app.query_one(NetworkPanel)
            width, height = panel.content_size
            lines = [panel.render_line(y).text.rstrip() for y in range(height)]
            labels = [line.split()[0] for line in lines if line.strip()]
            # One row per line: a wrapped row would start a line without its label, and push
            # the last row ("copies") out of the panel.
            assert labels == ["delay", "drop", "cuts", "sent", "failed", "copies"], (size, lines)
            assert all(len(line) <= width for line in lines)
            assert "1.2M" in lines[3], lines

    for size in ((80, 24), (120, 40)):
        asyncio.run(main(size))


def test_the_widgets_show_a_model_without_the_app() -> None:
    """How the replay screen uses them: compose the widgets, call ``show(model)``."""
    from textual.app import App, ComposeResult

    class Widgets(App[None]):
        def compose(self) -> ComposeResult:
            yield NodesTable()
            yield NetworkPanel()
            yield SpaceTime()
            yield EventLog()

    async def main() -> None:
        app = Widgets()
        async with app.run_test(size=(80, 40)) as pilot:
            model = hand_built_model()
            app.query_one(NodesTable).show(model)
            app.query_one(NetworkPanel).show(model)
            app.query_one(SpaceTime).show(model)
            app.query_one(EventLog).show(model)
            await pilot.pause()
            table = app.query_one(NodesTable)
            assert table.selected_node == "a"
            assert [c.plain for c in table.get_row("server")][:2] == ["  server", "cut off"]
            log = app.query_one(EventLog)
            log.set_filter("drop")
            await pilot.pause()
            lines = [line.text for line in app.query_one("#event-lines", RichLog).lines]
            assert len(lines) == 1 and "dropped ping" in lines[0]
            earlier = hand_built_model()  # a replay stepping back: a new, shorter model
            earlier.events.pop()
            log.set_filter("")
            log.show(earlier)
            await pilot.pause()
            assert len(app.query_one("#event-lines", RichLog).lines) == len(earlier.events)

    asyncio.run(main())


def test_a_labs_status_fields_get_columns_of_their_own() -> None:
    """lab.toml ``[tui] columns``: those fields line up in columns; the rest stays in status."""
    from textual.app import App, ComposeResult

    class Table(App[None]):
        def compose(self) -> ComposeResult:
            yield NodesTable(fields=("role", "term", "holder"))

    model = ClusterModel()
    nodes = {"replica-1": "replica", "replica-2": "replica"}
    faults: dict[str, Any] = {"default": {}, "overrides": [], "cuts": []}
    start = {"nodes": nodes, "config": {}, "faults": faults, "summary": ""}
    model.apply(TraceEvent(1, 0.0, "run_start", start))
    for seq, (node, fields) in enumerate(
        [
            ("replica-1", {"role": "leader", "term": 3, "holder": "client-2", "votes": 3}),
            ("replica-2", {"role": "follower", "term": 3, "holder": None}),
        ],
        start=2,
    ):
        model.apply(
            TraceEvent(seq, seq / 10, "start", {"node": node, "role": "replica", "incarnation": 1})
        )
        model.apply(TraceEvent(seq, seq / 10, "status", {"node": node, "fields": fields}))

    async def main() -> None:
        app = Table()
        async with app.run_test(size=(100, 10)) as pilot:
            table = app.query_one(NodesTable)
            table.show(model)
            await pilot.pause()
            headings = [str(column.label) for column in table.columns.values()]
            assert headings[1:6] == ["state", "role", "term", "holder", "status"]
            assert [c.plain for c in table.get_row("replica-1")][2:6] == [
                "leader",
                "3",
                "client-2",
                "votes=3",  # the fields with columns are left out of the status
            ]
            assert [c.plain for c in table.get_row("replica-2")][2:6] == ["follower", "3", "-", ""]

    asyncio.run(main())


def test_labs_3_and_4_show_queue_depth_roles_terms_and_lock_holders() -> None:
    """The lab's own columns, live: the queue's depth (lab 3); role, term, holder (lab 4)."""

    def cell(app: LabApp, node: str, column: str) -> str:
        try:
            return app.query_one(NodesTable).get_cell(node, f"field:{column}").plain
        except (KeyError, CellDoesNotExist):  # the row, or the column, is not there yet
            return ""

    async def main() -> None:
        judge = LabApp(find_lab("3"), impl=None, placement="sim", seed=1)
        async with judge.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: cell(judge, "queue", "depth").isdigit(), "the depth")
        chubby = LabApp(find_lab("4"), impl=None, placement="sim", seed=1)
        async with chubby.run_test(size=SIZE) as pilot:
            replicas = [f"replica-{i}" for i in range(1, 6)]

            def leader() -> str | None:
                leading = [r for r in replicas if cell(chubby, r, "role") == "leader"]
                return leading[0] if leading else None

            await until(pilot, lambda: leader() is not None, "a leader in the role column")
            lead = leader()
            assert lead is not None and cell(chubby, lead, "term").isdigit()
            await until(
                pilot, lambda: cell(chubby, lead, "holder").startswith("client-"), "a holder"
            )

    asyncio.run(main())


# -- a lab's parts and chart (lab.toml [tui.parts], [tui.chart]) ---------------------------------

FLEET_TOML = """
title = "Fleet: a cloud that boots a worker, then drains and terminates another"
solution = "solution.py"
scenario = "demo.py"
duration = 60.0

[[nodes]]
role = "lb"
class = "Lb"

[[nodes]]
role = "worker"
class = "Worker"

[[nodes]]
role = "cloud"
class = "Cloud"
file = "cloud.py"
trusted = true

[tui]
columns = ["in_service"]

[tui.parts]
booting = "cloud.booting"
"in service" = "lb.in_service"
draining = "lb.draining"

[tui.chart]
title = "workers"
count = "cloud.instances"
"""
FLEET_SOLUTION = """
from distlab import Message, Node, handler


class Lb(Node):
    async def on_start(self) -> None:
        self.status(in_service=["worker"], draining=[])

    @handler("move")
    async def on_move(self, msg: Message) -> None:
        self.status(in_service=msg.body["in_service"], draining=msg.body["draining"])


class Worker(Node):
    pass
"""
FLEET_CLOUD = """
from distlab import ProviderNode

STEP = 1.0  # seconds between two steps of the story: long enough for the screen to show each


class Cloud(ProviderNode):
    async def on_start(self) -> None:
        self.status(booting=[], instances=["worker"])
        self.spawn(self.story)

    async def story(self) -> None:
        await self.sleep(STEP)
        self.status(booting=["worker-2"], instances=["worker", "worker-2"])
        await self.sleep(STEP)
        await self.launch("worker-2", role="worker")
        self.status(booting=[])
        self.send("lb", {"type": "move", "in_service": ["worker", "worker-2"], "draining": []})
        await self.sleep(STEP)
        self.send("lb", {"type": "move", "in_service": ["worker-2"], "draining": ["worker"]})
        await self.sleep(STEP)
        await self.terminate("worker")
        self.status(instances=["worker-2"])
        self.send("lb", {"type": "move", "in_service": ["worker-2"], "draining": []})
"""
FLEET_DEMO = """
import trio

from distlab import ScenarioResult


async def scenario(cluster, *, duration):
    await trio.sleep(duration)
    return ScenarioResult.ok("the story was told")
"""


def fleet_lab(folder: Path) -> Lab:
    """A small lab that declares parts and a chart: its cloud boots ``worker-2``, then the lb
    drains ``worker`` and the cloud terminates it, a second apart."""
    lab_dir = folder / "90-fleet"
    lab_dir.mkdir()
    for name, text in [
        ("lab.toml", FLEET_TOML),
        ("solution.py", FLEET_SOLUTION),
        ("cloud.py", FLEET_CLOUD),
        ("demo.py", FLEET_DEMO),
    ]:
        (lab_dir / name).write_text(text, encoding="utf-8")
    return load_lab(lab_dir)


def test_a_lab_declares_parts_and_a_chart_in_lab_toml(tmp_path: Path) -> None:
    lab = fleet_lab(tmp_path)
    assert lab.parts == (
        PartSpec("booting", "cloud", "booting"),
        PartSpec("in service", "lb", "in_service"),
        PartSpec("draining", "lb", "draining"),
    )
    assert lab.chart == ChartSpec("workers", "cloud", "instances")
    assert lab.columns == ("in_service",)
    assert find_lab("0").parts == () and find_lab("0").chart is None


@pytest.mark.parametrize(
    ("tui", "error"),
    [
        ('[tui.parts]\nbooting = "cloud"', r"\[tui.parts\] 'booting': must be \"node.field\""),
        ("[tui.parts]\nbooting = 3", r"e.g. \"lb.draining\", got 3"),
        ('[tui.parts]\nbooting = "clod.booting"', r"names no node of the lab: .* lb, worker, cl"),
        ("[tui]\nparts = 3", r"'tui.parts' must be a table \[tui.parts\]"),
        ("[tui]\nchart = 3", r"'tui.chart' must be a table, e.g. \[tui.chart\]"),
        ('[tui.chart]\ntitle = "x"', r"\[tui.chart\]: no 'count': the keys are 'count'"),
        ('[tui.chart]\ncount = "cloud.instances"\ncolor = "red"', r"unknown key 'color'"),
        ('[tui.chart]\ncount = "cloud"', r"\[tui.chart\] 'count': must be \"node.field\""),
        ('[tui.chart]\ncount = "cloud.n"\ntitle = ""', r"'title': the chart's name in words"),
        ('[tui]\ncolumn = ["x"]', r"\[tui\]: unknown key 'column': the keys are columns, parts"),
    ],
)
def test_parts_and_charts_in_lab_toml_are_checked(tmp_path: Path, tui: str, error: str) -> None:
    lab_dir = tmp_path / "90-fleet"
    lab_dir.mkdir()
    nodes = "".join(
        f'[[nodes]]\nrole = "{role}"\nclass = "C"\n' for role in ("lb", "worker", "cloud")
    )
    (lab_dir / "lab.toml").write_text(
        f'title = "t"\nsolution = "s.py"\n{nodes}\n{tui}\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=error) as raised:
        load_lab(lab_dir)
    assert str(lab_dir / "lab.toml") in str(raised.value)  # the file, to fix


def test_the_chart_draws_bars_from_zero_and_tells_the_story_in_words() -> None:
    assert draw_chart([2, 2, 4, 8, None, 0], width=10, rows=2) == [
        "   █  ",
        "▄▄██  ",
    ]  # one column per sample while they fit: 2 is a quarter of 8
    assert draw_chart([1, 1, 3, 3, 2, 2], width=3, rows=1) == ["▃█▅"]  # the most of each group
    assert draw_chart([], width=5) == ["", ""]
    assert chart_words([2, 2, 6, 6, 3, 2, 2], 3) == "2 → 6 → 2, now 3"
    assert chart_words([4, 2, 6, 5], None) == "4 → 2 → 6, now 5"  # down first; now: the last
    assert chart_words([2, 4, 4], 4) == "2 → 4, now 4"
    assert chart_words([None, 2, 2], 2) == "2 all along"
    assert chart_words([2, 2], 3) == "2, now 3"  # it changed since the last sample
    assert chart_words([], None) == "no value yet"
    assert chart_words([], 1.25) == "now 1.25"


def test_the_live_screen_shows_booting_draining_and_terminated_rows_and_the_chart(
    tmp_path: Path,
) -> None:
    """A lab that declares parts and a chart, live: each row's part, and the fleet's count."""
    lab = fleet_lab(tmp_path)

    def state(app: LabApp, name: str) -> str:
        try:
            return app.query_one(NodesTable).get_cell(name, "state").plain
        except (KeyError, CellDoesNotExist):  # not a row (yet, or any more)
            return ""

    async def main() -> None:
        app = LabApp(lab, impl=None, placement="sim", seed=1)
        async with app.run_test(size=(80, 30)) as pilot:
            table = app.query_one(NodesTable)
            chart = app.query_one(CountChart)
            assert chart.border_title == "workers"
            await until(pilot, lambda: state(app, "worker") == "up · in service", "in service")
            await until(pilot, lambda: state(app, "worker-2") == "booting", "a booting row")
            assert "worker-2" not in app.model.nodes  # a row, not a node: no lane
            assert table.get_cell("worker-2", "node").style == "dim"
            await until(pilot, lambda: state(app, "worker-2") == "up · in service", "it joins")
            await until(pilot, lambda: state(app, "worker") == "up · draining", "draining")
            await until(pilot, lambda: state(app, "worker").startswith("terminated"), "gone")
            await until(pilot, lambda: chart.words == "1 → 2 → 1, now 1", "the chart's story")
            await until(pilot, lambda: state(app, "worker") == "", "the row leaves")
            assert [state(app, n) for n in ("lb", "worker-2")] == ["up", "up · in service"]
            assert max(v or 0 for v in app.model.series) == 2

    asyncio.run(main())
