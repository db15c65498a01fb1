"""The replay screen: the pure stepping logic, then the app driven by key presses.

Pilot tests are sync functions that call ``asyncio.run``: pytest-trio's trio_mode claims every
``async def`` test, and Textual needs asyncio.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import trio
from textual.widgets import RichLog
from textual.widgets.data_table import CellDoesNotExist

from bench.tui import write_lab0_trace
from distlab import TraceEvent, open_cluster, read_trace, run_simulated
from distlab._describe import describe
from distlab._labs import find_lab, labs_dir, load_lab
from distlab._trace import CHECK_FAILED, CRASH, RUN_END
from distlab.tui._model import ClusterModel
from distlab.tui.replay import (
    BIG_STEP,
    ReplayApp,
    Scrubber,
    Timeline,
    cursor_at_time,
    failure_cursor,
    lab_columns,
    model_at,
    time_at,
)
from distlab.tui.widgets import CountChart, EventLog, NodesTable, SpaceTime

# -- traces -------------------------------------------------------------------------------------


def write_crash_trace(path: Path) -> list[TraceEvent]:
    """Lab 0 in the simulator; the server crashes by itself after 0.2 s and comes back at 2 s."""
    impl = Path(__file__).resolve().parent / "impls" / "server_fails_after_a_while.py"
    spec = load_lab(labs_dir() / "00-ping").cluster_spec(impl)

    async def main() -> None:
        async with open_cluster(spec, seed=5, placement="sim", trace_path=path) as cluster:
            cluster.network.set_faults(delay=0.05)  # pings still coming after 1 s
            await trio.sleep(2.0)
            await cluster.restart("server")
            await trio.sleep(1.0)

    run_simulated(main, seed=5)
    return list(read_trace(path))


@pytest.fixture(scope="module")
def lab0(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[TraceEvent]]:
    path = tmp_path_factory.mktemp("replay") / "lab0-seed3.jsonl"
    return path, write_lab0_trace(path)


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[TraceEvent]]:
    path = tmp_path_factory.mktemp("replay") / "crash.jsonl"
    return path, write_crash_trace(path)


def state(model: ClusterModel) -> dict[str, Any]:
    """Everything a model shows, as plain data, to compare two models."""
    return {
        "nodes": {name: asdict(node) for name, node in model.nodes.items()},
        "messages": [asdict(m) for m in model.messages],
        "events": [e.seq for e in model.events],
        "totals": dict(model.totals),
        "faults": model.faults.to_dict(),
        "seed": model.seed,
        "placement": model.placement,
        "now": model.now,
        "last_seq": model.last_seq,
        "rate": model.messages_per_second(),
    }


def event(seq: int, t: float, kind: str, **fields: Any) -> TraceEvent:
    return TraceEvent(seq, t, kind, fields)


# -- model_at and Timeline -----------------------------------------------------------------------


def test_model_at_every_cursor_matches_folding_one_event_at_a_time(
    lab0: tuple[Path, list[TraceEvent]],
) -> None:
    _, events = lab0
    assert len(events) > 100
    folded = ClusterModel()
    assert state(model_at(events, 0)) == state(folded)
    for cursor, e in enumerate(events, start=1):
        folded.apply(e)
        assert state(model_at(events, cursor)) == state(folded), cursor
    assert state(model_at(events, len(events) + 10)) == state(folded)  # past the end: the end
    assert model_at(events, 60).last_seq == events[59].seq


def test_timeline_answers_like_model_at_in_any_order(
    lab0: tuple[Path, list[TraceEvent]],
) -> None:
    _, events = lab0
    timeline = Timeline(events, every=7)
    cursors = [len(events), 0, 50, 49, 8, 7, 6, 100, 3, len(events) - 1, 21]
    for cursor in cursors:
        assert state(timeline.model_at(cursor)) == state(model_at(events, cursor)), cursor


def test_timeline_models_are_the_callers_own(lab0: tuple[Path, list[TraceEvent]]) -> None:
    _, events = lab0
    timeline = Timeline(events, every=10)
    model = timeline.model_at(35)
    model.apply_all(events[35:80])  # changing it must not change the checkpoints
    model.nodes["client"].status["scribbled"] = True
    assert state(timeline.model_at(35)) == state(model_at(events, 35))
    assert state(timeline.model_at(25)) == state(model_at(events, 25))


def test_timeline_advance_folds_forward_and_rebuilds_backward(
    lab0: tuple[Path, list[TraceEvent]],
) -> None:
    _, events = lab0
    timeline = Timeline(events, every=10)
    model = timeline.model_at(5)
    same = timeline.advance(model, 5, 12)
    assert same is model  # a short step forward folds in place
    assert state(same) == state(model_at(events, 12))
    back = timeline.advance(same, 12, 4)
    assert state(back) == state(model_at(events, 4))
    far = timeline.advance(back, 4, 90)
    assert state(far) == state(model_at(events, 90))


def test_time_lookups() -> None:
    events = [
        event(1, 0.0, "run_start"),
        event(2, 0.0, "start"),
        event(3, 0.5, "log"),
        event(4, 1.0, "log"),
        event(5, 1.0, "log"),
        event(6, 2.25, "log"),
    ]
    timeline = Timeline(events)
    for t, cursor in [
        (-1.0, 0),
        (0.0, 2),  # everything at t=0
        (0.4, 2),
        (0.5, 3),  # exactly at an event: that event is shown
        (0.99, 3),
        (1.0, 5),  # the last of two events at the same time
        (2.0, 5),
        (2.25, 6),
        (100.0, 6),
    ]:
        assert cursor_at_time(events, t) == cursor, t
        assert timeline.cursor_at_time(t) == cursor, t
    assert time_at(events, 0) == 0.0
    assert time_at(events, 4) == 1.0
    assert timeline.end_time == 2.25
    assert cursor_at_time([], 3.0) == 0


def test_time_lookup_with_events_slightly_out_of_order() -> None:
    # The processes placement can record an event a few microseconds before the one ahead of it.
    events = [event(1, 0.0, "log"), event(2, 1.0002, "log"), event(3, 1.0001, "log")]
    assert cursor_at_time(events, 1.0001) == 1
    assert Timeline(events).cursor_at_time(1.0001) == 1
    assert cursor_at_time(events, 1.0002) == 3


def test_failure_is_the_first_crash(crashes: tuple[Path, list[TraceEvent]]) -> None:
    _, events = crashes
    cursor = failure_cursor(events)
    assert cursor is not None
    assert events[cursor - 1].kind == CRASH
    assert events[cursor - 1]["node"] == "server"
    assert CRASH not in {e.kind for e in events[: cursor - 1]}


def test_failure_prefers_the_graders_verdict(crashes: tuple[Path, list[TraceEvent]]) -> None:
    _, events = crashes
    last = events[-1]
    verdict = event(last.seq + 1, last.t, CHECK_FAILED, test="test_x", message="lost a pong")
    with_verdict = [*events, verdict]
    assert failure_cursor(with_verdict) == len(with_verdict)


def test_failure_is_the_end_of_the_window_a_verdict_names(
    crashes: tuple[Path, list[TraceEvent]],
) -> None:
    _, events = crashes
    last = events[-1]
    until = events[len(events) // 2].t
    fields = {"test": "test_x", "message": "not linearizable", "from": 0.0, "until": until}
    with_verdict = [*events, event(last.seq + 1, last.t, CHECK_FAILED, **fields)]
    cursor = failure_cursor(with_verdict)
    assert cursor is not None and cursor < len(with_verdict)
    assert with_verdict[cursor - 1].t <= until < with_verdict[cursor].t


def test_failure_falls_back_to_a_failed_run_end() -> None:
    events = [
        event(1, 0.0, "run_start"),
        event(2, 1.0, RUN_END, reason="the run was interrupted (KeyboardInterrupt)", counts={}),
    ]
    assert failure_cursor(events) == 2
    events[1] = event(2, 1.0, RUN_END, reason="the run finished", counts={})
    assert failure_cursor(events) is None


def test_a_clean_run_has_no_failure(lab0: tuple[Path, list[TraceEvent]]) -> None:
    assert failure_cursor(lab0[1]) is None


# -- the app, driven by keys --------------------------------------------------------------------


class Drive:
    """What a run of the app showed: its notifications and, at the end, its scrubber's label."""

    def __init__(self) -> None:
        self.notifications: list[str] = []
        self.label = ""


def drive(app: ReplayApp, *keys: str, size: tuple[int, int] = (100, 30)) -> Drive:
    """Run the app headless and press ``keys``."""
    seen = Drive()

    def notify(message: str, **_: Any) -> None:
        seen.notifications.append(message)

    app.notify = notify  # type: ignore[method-assign]

    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.press(*keys)
            await pilot.pause()
            seen.label = app.query_one(Scrubber).label

    asyncio.run(go())
    return seen


def assert_shows(app: ReplayApp, seen: Drive, cursor: int) -> None:
    """The app's cursor, model, time and scrubber all say ``cursor``."""
    events = app.events
    assert app.cursor == cursor
    assert state(app.model) == state(model_at(events, cursor))
    assert app.time == (events[cursor - 1].t if cursor else 0.0)
    assert seen.label == f"t={app.time:.3f} s · event {cursor}/{len(events)}"


def test_arrows_step_one_event_and_page_keys_fifty(lab0: tuple[Path, list[TraceEvent]]) -> None:
    path, _ = lab0
    app = ReplayApp(path)
    seen = drive(app, "right", "right", "right")
    assert_shows(app, seen, 3)

    app = ReplayApp(path)
    seen = drive(app, "right", "right", "right", "left")
    assert_shows(app, seen, 2)

    app = ReplayApp(path)
    seen = drive(app, "shift+right", "pagedown", "right", "shift+left")
    assert_shows(app, seen, BIG_STEP + 1)

    app = ReplayApp(path)
    seen = drive(app, "pagedown", "pagedown", "pageup", "left")
    assert_shows(app, seen, BIG_STEP - 1)


def test_home_and_end_and_the_edges(lab0: tuple[Path, list[TraceEvent]]) -> None:
    path, events = lab0
    app = ReplayApp(path)
    seen = drive(app, "end")
    assert_shows(app, seen, len(events))
    assert app.model.nodes["client"].status.get("done") is True

    app = ReplayApp(path)
    seen = drive(app, "end", "right", "pagedown")  # nothing after the end
    assert_shows(app, seen, len(events))

    app = ReplayApp(path)
    seen = drive(app, "end", "left", "home", "left", "pageup")  # nothing before the start
    assert_shows(app, seen, 0)
    assert app.model.nodes == {}


def test_g_jumps_to_the_last_event_at_or_before_a_time(
    lab0: tuple[Path, list[TraceEvent]],
) -> None:
    path, events = lab0
    t = events[40].t
    app = ReplayApp(path)
    seen = drive(app, "g", *str(t), "enter")
    expected = cursor_at_time(events, t)
    assert events[expected - 1].t <= t
    assert expected == len(events) or events[expected].t > t
    assert_shows(app, seen, expected)

    app = ReplayApp(path)
    seen = drive(app, "end", "g", "0", ".", "2", "5", "enter")  # backwards, between events
    assert_shows(app, seen, cursor_at_time(events, 0.25))

    app = ReplayApp(path)
    seen = drive(app, "right", "g", "3", "escape")  # escape: nowhere
    assert_shows(app, seen, 1)


def test_arrows_in_the_time_box_edit_the_number(lab0: tuple[Path, list[TraceEvent]]) -> None:
    path, events = lab0
    app = ReplayApp(path)
    seen = drive(app, "g", "1", "5", "left", ".", "end", "enter")  # "1.5": the box's own keys
    assert_shows(app, seen, cursor_at_time(events, 1.5))


def test_f_jumps_to_the_crash(crashes: tuple[Path, list[TraceEvent]]) -> None:
    path, events = crashes
    app = ReplayApp(path)
    seen = drive(app, "f")
    assert seen.notifications == []
    cursor = failure_cursor(events)
    assert cursor is not None
    assert_shows(app, seen, cursor)
    assert app.model.nodes["server"].state == "crashed"


def test_f_without_a_failure_says_so(lab0: tuple[Path, list[TraceEvent]]) -> None:
    path, _ = lab0
    app = ReplayApp(path)
    seen = drive(app, "right", "f")
    assert seen.notifications == ["no failure in this trace"]
    assert_shows(app, seen, 1)


def test_f_jumps_to_the_graders_verdict(
    crashes: tuple[Path, list[TraceEvent]], tmp_path: Path
) -> None:
    _, events = crashes
    path = tmp_path / "graded.jsonl"
    last = events[-1]
    verdict = event(last.seq + 1, last.t, CHECK_FAILED, test="test_x", message="lost a pong")
    path.write_text("".join(e.to_json() + "\n" for e in [*events, verdict]))
    app = ReplayApp(path)
    seen = drive(app, "f")
    assert_shows(app, seen, len(events) + 1)


def test_the_filter_line_keeps_its_arrow_keys(lab0: tuple[Path, list[TraceEvent]]) -> None:
    path, _ = lab0
    app = ReplayApp(path)
    seen = drive(
        app, "right", "right", "slash", "c", "l", "left", "right", "home", "end", "escape", "right"
    )
    assert_shows(app, seen, 3)


def test_help_lists_the_keys_and_q_quits(lab0: tuple[Path, list[TraceEvent]]) -> None:
    path, _ = lab0
    app = ReplayApp(path)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("x")  # any key closes it
            await pilot.pause()
            assert app.screen is app.screen_stack[0]
            await pilot.press("right", "q")
            await pilot.pause()
            assert not app.is_running

    asyncio.run(go())
    assert app.cursor == 1


def test_run_replay_app_refuses_what_is_not_a_trace(tmp_path: Path) -> None:
    from distlab import DistlabError
    from distlab.tui.replay import run_replay_app

    with pytest.raises(DistlabError, match="no such trace file"):
        run_replay_app(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1, "t": 0, "kind": "run_start"}\nnot json\n')
    with pytest.raises(DistlabError, match="line 2 is not a distlab trace event"):
        run_replay_app(bad)


def test_an_empty_trace_replays(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    app = ReplayApp(path)
    seen = drive(app, "right", "end", "f")
    assert seen.notifications == ["no failure in this trace"]
    assert app.cursor == 0
    assert seen.label == "t=0.000 s · event 0/0"


def test_run_replay_app_opens_at_a_time(
    lab0: tuple[Path, list[TraceEvent]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from distlab.tui.replay import run_replay_app

    path, events = lab0
    opened: list[int] = []

    def run(app: ReplayApp) -> None:
        opened.append(app.start_cursor)

    monkeypatch.setattr(ReplayApp, "run", run)
    run_replay_app(path)
    run_replay_app(path, at=1.0)
    assert opened == [0, cursor_at_time(events, 1.0)]


def test_the_scrubber_bar() -> None:
    scrubber = Scrubber()
    scrubber.point(0, 100, t=0.0)
    assert scrubber.bar(10).plain == "─" * 10
    scrubber.point(50, 100, t=4.5, failure=90)
    assert scrubber.bar(10).plain == "━━━━●───✗─"
    assert scrubber.label == "t=4.500 s · event 50/100"
    scrubber.point(100, 100, t=9.0, failure=90)
    assert scrubber.bar(10).plain == "━━━━━━━━✗●"
    scrubber.point(0, 0, t=0.0)
    assert scrubber.bar(4).plain == "────"


def test_a_replay_shows_the_columns_of_the_lab_its_trace_came_from() -> None:
    chubby = [event(1, 0.0, "run_start", lab="04-chubby", seed=1)]
    assert lab_columns(chubby) == find_lab("4").columns == ("role", "term", "holder")
    assert lab_columns([event(1, 0.0, "run_start", lab="99-gone", seed=1)]) == ()  # not here
    assert lab_columns([event(1, 0.0, "run_start", seed=1)]) == ()  # not a lab's nodes
    assert lab_columns([]) == ()


# -- the event log follows the cursor -------------------------------------------------------------


def cursor_line(app: ReplayApp) -> int:
    """The event log's line where the cursor's event starts (the last line that starts it)."""
    first = describe(app.events[app.cursor - 1]).plain.split("\n")[0]
    lines = [line.text.rstrip() for line in app.query_one("#event-lines", RichLog).lines]
    starts = [i for i, text in enumerate(lines) if len(text) >= 20 and first.startswith(text)]
    assert starts, f"the cursor's event is not in the log: {first!r}"
    return starts[-1]


def cursor_event_in_view(app: ReplayApp) -> bool:
    """Is the first line of the cursor's event on the event log's screen?"""
    log = app.query_one("#event-lines", RichLog)
    top = round(log.scroll_y)
    return top <= cursor_line(app) < top + log.scrollable_content_region.height


def test_the_event_log_follows_the_cursor_even_when_scrolled_up(
    lab0: tuple[Path, list[TraceEvent]],
) -> None:
    path, events = lab0
    app = ReplayApp(path)

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            log = app.query_one("#event-lines", RichLog)
            for key, cursor in [
                ("pagedown", BIG_STEP),
                ("right", BIG_STEP + 1),
                ("pagedown", 2 * BIG_STEP + 1),
                ("left", 2 * BIG_STEP),
                ("pageup", BIG_STEP),
                ("end", len(events)),
            ]:
                # The student scrolled the log up to read: the cursor's event is off-screen.
                log.scroll_home(animate=False, immediate=True)
                await pilot.pause()
                if app.cursor:
                    assert not cursor_event_in_view(app), key
                await pilot.press(key)
                await pilot.pause()
                assert app.cursor == cursor
                assert cursor_event_in_view(app), key
                assert app.query_one(EventLog).border_subtitle == ""  # not held

    asyncio.run(go())


def test_f_shows_the_crash_in_the_event_log_from_its_first_line(
    crashes: tuple[Path, list[TraceEvent]],
) -> None:
    """A crash takes many lines (its traceback): the log shows where it starts, not its end."""
    path, events = crashes
    app = ReplayApp(path)

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("end", "f")
            await pilot.pause()
            assert app.cursor == failure_cursor(events)
            log = app.query_one("#event-lines", RichLog)
            crash_lines = len(log.lines) - cursor_line(app)
            assert crash_lines > log.scrollable_content_region.height  # taller than the log
            assert cursor_event_in_view(app)
            await pilot.press("right")  # and the next event is in view again, at the end
            await pilot.pause()
            assert cursor_event_in_view(app)
            assert log.scroll_y == log.max_scroll_y

    asyncio.run(go())


# -- lane labels on narrow screens ----------------------------------------------------------------


def lab_trace(number: str, messages: int = 40) -> list[TraceEvent]:
    """A trace with the nodes of lab ``number`` (as its run_start names them), each started,
    then ``messages`` messages between them, each delivered."""
    lab = find_lab(number)
    roles = {name: role.role for role in lab.roles for name in role.node_names()}
    faults = {"default": {}, "overrides": [], "cuts": []}
    start = {"lab": lab.slug, "seed": 1, "placement": "sim", "nodes": roles, "faults": faults}
    events = [event(1, 0.0, "run_start", **start, config={}, summary="")]
    for name, role in roles.items():
        events.append(
            event(
                len(events) + 1, 0.0, "start", node=name, role=role, incarnation=1, cls="N", port=1
            )
        )
    names = list(roles)
    for i in range(messages):
        src, dest = names[i % len(names)], names[(3 * i + 1) % len(names)]
        mid, t = f"{src}/1/{i}", 0.1 * (i + 1)
        events.append(
            event(len(events) + 1, t, "send", src=src, dest=dest, mid=mid, body={"type": "ping"})
        )
        events.append(
            event(
                len(events) + 1,
                t + 0.01,
                "deliver",
                src=src,
                dest=dest,
                mid=mid,
                type="ping",
                copy=0,
            )
        )
    return events


def header_labels(app: ReplayApp) -> list[tuple[int, str]]:
    """The space-time view's lane labels, as (first column, label), left to right: the words of
    the rows above the first message."""
    view = app.query_one(SpaceTime)
    labels: list[tuple[int, str]] = []
    for y in range(view.content_size.height):
        row = view.render_line(y).text
        if "●" in row or "↺" in row:  # a message: the header is above
            break
        labels += [(m.start(), m.group()) for m in re.finditer(r"[\w-]+", row)]
    return sorted(labels)


def recognisable(label: str, name: str, role: str) -> bool:
    """Does ``label`` name node ``name`` of ``role``: its number and its role's first letters?"""
    number = name.removeprefix(role).lstrip("-")
    if not number:  # the only node of its role: a prefix of its name
        return name.startswith(label)
    return label.endswith(number) and label[0] == role[0]


@pytest.mark.parametrize("number", ["4", "3"])
@pytest.mark.parametrize("size", [(80, 24), (80, 40)])
def test_at_80_columns_every_lane_is_named_apart(number: str, size: tuple[int, int]) -> None:
    """Lab 4's five replicas and two clients, lab 3's eight nodes: at 80 columns each lane's label
    is its own and names its node (``re-1``, ``cl-2``, ``j-3``), never ``1 2 3 4 5 1 2``."""
    events = lab_trace(number)
    roles: dict[str, str] = events[0]["nodes"]
    app = ReplayApp(Path("lab.jsonl"), events, cursor=len(events))

    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            assert app.cursor == len(events)
            labels = [label for _, label in header_labels(app)]
            assert len(labels) == len(roles) and len(set(labels)) == len(labels), labels
            # Lanes are in the order of the nodes, and so are their labels, left to right.
            for label, (name, role) in zip(labels, roles.items(), strict=True):
                assert recognisable(label, name, role), (label, name, labels)
            # The node selected in the nodes table (which has its full name) stands out.
            await pilot.press("down")
            await pilot.pause()
            selected = app.query_one(NodesTable).selected_node
            assert selected == list(roles)[1]
            view = app.query_one(SpaceTime)
            reversed_text = "".join(
                segment.text
                for y in range(3)
                for segment in view.render_line(y)
                if segment.style is not None and segment.style.reverse
            )
            assert reversed_text == labels[1], (reversed_text, labels)

    asyncio.run(go())


# -- a lab's parts and chart ----------------------------------------------------------------------

FLEET_TOML = """
title = "Fleet"
solution = "solution.py"

[[nodes]]
role = "lb"
class = "Lb"

[[nodes]]
role = "worker"
class = "Worker"

[[nodes]]
role = "cloud"
class = "Cloud"

[tui.parts]
booting = "cloud.booting"
"in service" = "lb.in_service"
draining = "lb.draining"

[tui.chart]
title = "workers"
count = "cloud.instances"
"""


def fleet_trace() -> list[TraceEvent]:
    """A fleet's story, hand-made: worker-2 boots (t=1-2 s), worker drains (3 s) and is
    terminated (4 s)."""
    faults: dict[str, Any] = {"default": {}, "overrides": [], "cuts": []}
    nodes = {"lb": "lb", "worker": "worker", "cloud": "cloud"}
    started = {"incarnation": 1, "cls": "N", "port": 0}
    steps: list[tuple[float, str, dict[str, Any]]] = [
        (
            0.0,
            "run_start",
            {
                "lab": "90-fleet",
                "seed": 1,
                "placement": "sim",
                "nodes": nodes,
                "faults": faults,
                "config": {},
                "summary": "",
            },
        ),
        *((0.0, "start", {"node": n, "role": r, **started}) for n, r in nodes.items()),
        (0.0, "status", {"node": "cloud", "fields": {"booting": [], "instances": ["worker"]}}),
        (0.0, "status", {"node": "lb", "fields": {"in_service": ["worker"], "draining": []}}),
        (1.0, "status", {"node": "cloud", "fields": {"booting": ["worker-2"]}}),
        (1.0, "status", {"node": "cloud", "fields": {"instances": ["worker", "worker-2"]}}),
        (2.0, "spawn", {"node": "worker-2", "role": "worker"}),
        (2.0, "start", {"node": "worker-2", "role": "worker", **started}),
        (2.0, "status", {"node": "cloud", "fields": {"booting": []}}),
        (2.1, "status", {"node": "lb", "fields": {"in_service": ["worker", "worker-2"]}}),
        (3.0, "status", {"node": "lb", "fields": {"in_service": ["worker-2"]}}),
        (3.0, "status", {"node": "lb", "fields": {"draining": ["worker"]}}),
        (4.0, "terminate", {"node": "worker", "incarnation": 1}),
        (4.0, "status", {"node": "cloud", "fields": {"instances": ["worker-2"]}}),
        (4.1, "status", {"node": "lb", "fields": {"draining": []}}),
        (9.0, "run_end", {"reason": "the run finished"}),
    ]
    return [event(seq, t, kind, **fields) for seq, (t, kind, fields) in enumerate(steps, 1)]


@pytest.fixture
def fleet_labs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of labs holding the fleet's lab, where ``find_lab`` looks."""
    (tmp_path / "90-fleet").mkdir()
    (tmp_path / "90-fleet" / "lab.toml").write_text(FLEET_TOML, encoding="utf-8")
    monkeypatch.setenv("DISTLAB_LABS", str(tmp_path))
    return tmp_path


def shown(model: ClusterModel) -> tuple[Any, ...]:
    rows = [(node.name, model.shown_state(node.name)) for node in model.rows()]
    return rows, model.parts, model.series, model.chart_value()


def test_a_replay_rebuilds_parts_rows_and_the_chart_at_any_cursor(fleet_labs: Path) -> None:
    events = fleet_trace()
    lab = load_lab(fleet_labs / "90-fleet")
    parts, chart = lab.parts, lab.chart
    timeline = Timeline(events, every=3, parts=parts, chart=chart)
    cursors = [*range(len(events) + 1), *reversed(range(len(events) + 1)), 7, 2, 15, 0]
    for cursor in cursors:
        expected = model_at(events, cursor, parts=parts, chart=chart)
        assert shown(timeline.model_at(cursor)) == shown(expected), cursor
    at_boot = model_at(events, cursor_at_time(events, 1.5), parts=parts, chart=chart)
    assert ("worker-2", "booting") in shown(at_boot)[0]
    end = timeline.model_at(len(events))
    # Every 0.5 s up to 8.5 s, each sample after the events at its time: 2 from 1.0 s, 1 from 4.0 s.
    assert end.series == [1, 1, *[2] * 6, *[1] * 10]
    assert [node.name for node in end.rows()] == ["lb", "cloud", "worker-2"]  # worker: gone


def test_the_replay_screen_shows_the_labs_parts_and_chart(fleet_labs: Path) -> None:
    events = fleet_trace()
    app = ReplayApp(Path("fleet.jsonl"), events, cursor=cursor_at_time(events, 3.0))

    def cells(name: str) -> str:
        return app.query_one(NodesTable).get_cell(name, "state").plain

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.pause()
            chart = app.query_one(CountChart)
            assert chart.border_title == "workers"
            assert cells("worker") == "up · draining"
            assert cells("worker-2") == "up · in service"
            assert chart.words == "1 → 2, now 2"
            await pilot.press("right")  # worker's terminate
            assert cells("worker") == "terminated · draining"
            await pilot.press("end")
            assert chart.words == "1 → 2 → 1, now 1"
            with pytest.raises(CellDoesNotExist):
                cells("worker")  # 5 s after its terminate, no part lists it: gone
            await pilot.press("home")
            await pilot.press(*["right"] * 7)  # t=1.0 s: worker-2 is booting
            assert cells("worker-2") == "booting"
            assert chart.words == "1 all along"
            await pilot.press("right")  # the cloud lists it: 2 now, sampled from 1.0 s on
            assert chart.words == "1, now 2"

    asyncio.run(go())
