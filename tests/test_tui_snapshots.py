"""Snapshots of the TUI's screens (pytest-textual-snapshot), in states that do not move.

Each test renders a screen headless and compares it with the SVG under ``__snapshots__/``. After
a deliberate change to the screens, look at the new pictures, then accept them with::

    uv run pytest tests/test_tui_snapshots.py --snapshot-update

Every screen shows lab 0 in the simulator (seed 3, drop 0.3): the same trace on every machine,
in a temporary file whose name, not its folder, is on the screen. The live screen is the live
app's (``LabApp``) with its cluster left unstarted and the model of that trace at 4.5 s, so the
picture does not depend on the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_tui_replay import FLEET_TOML, fleet_trace

from bench.tui import (
    SCREENSHOT_SIZE,
    TRACE_NAME,
    lab_screen_app,
    replay_screen_app,
    write_lab0_trace,
)
from distlab import read_trace
from distlab.tui.replay import ReplayApp, cursor_at_time

SnapCompare = Callable[..., bool]


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapshots") / TRACE_NAME
    write_lab0_trace(path)
    return path


def test_live_main_screen(snap_compare: SnapCompare, trace: Path) -> None:
    """The live app's main screen: nodes, network, messages and events of lab 0 at 4.5 s."""
    app = lab_screen_app(list(read_trace(trace)))
    assert snap_compare(app, terminal_size=SCREENSHOT_SIZE)


def test_replay_screen(snap_compare: SnapCompare, trace: Path) -> None:
    """The replay screen at 4.5 s (event 55 of 114), with its scrubber."""
    assert snap_compare(replay_screen_app(trace), terminal_size=SCREENSHOT_SIZE)


def test_replay_screen_after_keys(snap_compare: SnapCompare, trace: Path) -> None:
    """The replay screen at the end of the run, then 50 events back, then one on."""
    assert snap_compare(
        ReplayApp(trace), press=["end", "pageup", "right"], terminal_size=SCREENSHOT_SIZE
    )


def test_replay_help(snap_compare: SnapCompare, trace: Path) -> None:
    """The replay screen's help: every key."""
    assert snap_compare(ReplayApp(trace), press=["question_mark"], terminal_size=SCREENSHOT_SIZE)


def test_replay_screen_of_a_fleet_with_parts_and_a_chart(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lab's parts and chart (lab.toml [tui.parts], [tui.chart]), on the replay screen of a
    hand-made fleet trace at 4 s: worker-2 in service, worker terminated while the lb still
    drains it, and the workers' count over time under the network panel."""
    (tmp_path / "90-fleet").mkdir()
    (tmp_path / "90-fleet" / "lab.toml").write_text(FLEET_TOML, encoding="utf-8")
    monkeypatch.setenv("DISTLAB_LABS", str(tmp_path))  # where the replay finds the trace's lab
    events = fleet_trace()
    app = ReplayApp(Path("fleet.jsonl"), events, cursor=cursor_at_time(events, 4.0))
    assert snap_compare(app, terminal_size=SCREENSHOT_SIZE)
