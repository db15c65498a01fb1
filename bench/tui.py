"""(e) What watching a cluster in the TUI costs it; and the README's screenshots of the TUI.

Run it from the project root::

    uv run python -m bench.tui                          # the benchmark, about 2 minutes
    uv run python -m bench.tui --screenshots docs/images --png   # lab0.svg, replay.svg (+ PNGs)

The goal (from the TUI's issue): the TUI keeps up with 2,000 events/s, and watching reduces the
runtime's throughput by at most a quarter. Two workloads, each run headless (no screen) and
inside the live app (``tui.app.LabApp`` in a headless terminal, its real cluster bridge and its
redraws about 15 times a second), plus variants that split the cost (events kept, the bridge
without redraws, redraws 4 times a second):

- *ping-pong*: ``bench.run``'s two nodes, a client doing sequential rpcs as fast as it can. The
  runtime's throughput is the client's round trips/s; with the screen, it may lose at most 25%.
- *paced*: a client sending 500 pings/s at a fixed rate (5 every 10 ms, late ticks made up
  for), each answered by a pong: about 2,090 trace events/s. Does the runtime still produce
  them all under the screen, does the screen take every event as fast as they come, and what
  does that cost in CPU and in delay?

Variants are interleaved round by round, each figure is the median over the rounds. Everything is
bounded in time; the script ends by itself. The node classes and ``scenario`` are at module level
because the app loads them by file path, as it loads a lab's.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

import distlab.tui.app as live
from bench.run import BenchClient, BenchServer, load_average, machine
from distlab import (
    Cluster,
    ClusterSpec,
    FaultState,
    LinkFaults,
    Message,
    Node,
    NodeSpec,
    ScenarioResult,
    TraceEvent,
    handler,
    open_cluster,
    read_trace,
    run_simulated,
)
from distlab._cluster import Placement
from distlab._labs import Lab, RoleSpec, find_lab, labs_dir, load_lab
from distlab.tui._model import ClusterModel
from distlab.tui._process_bridge import ProcessBridge
from distlab.tui.app import LabApp
from distlab.tui.replay import ReplayApp, cursor_at_time

__all__ = [
    "BenchClient",
    "BenchServer",
    "FrozenLabApp",
    "PacedClient",
    "PacedServer",
    "scenario",
    "write_lab0_trace",
    "write_screenshots",
]

THIS_FILE = Path(__file__).resolve()
GOAL_RATIO = 0.75  # the runtime keeps at least this share of its throughput under the screen
GOAL_EVENTS = 2000.0  # events/s the screen must keep up with
TERMINAL = (120, 40)  # the headless terminal of the in-app runs
PACED_INTERVAL = 0.01  # seconds between the paced client's bursts
PACED_WINDOW_FACTOR = 2  # the paced runs' window: twice --duration
PACED_BURST = 5  # pings per interval: 1 timer + 5 x 2 x (send, deliver) = 21 events
RUN_TIMEOUT = 60.0


# -- the workloads' nodes (module level: the app loads them from this file) -------------------


class PacedClient(Node):
    """Sends ``config["burst"]`` pings per ``config["interval"]`` s, at a fixed rate.

    Each tick sends the pings due since the start that were not sent yet (at most ten bursts'
    worth): a tick that comes late, because something else held the loop, is made up for, so
    the offered load stays ``burst / interval`` pings/s for as long as the CPU allows.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pongs = 0
        self.sent = 0
        self.began = 0.0

    async def on_start(self) -> None:
        self.began = self.now()
        self.every(float(self.config["interval"]), self.tick)

    async def tick(self) -> None:
        burst, interval = int(self.config["burst"]), float(self.config["interval"])
        due = (int((self.now() - self.began) / interval) + 1) * burst
        for _ in range(min(due - self.sent, 10 * burst)):
            self.send("server", {"type": "ping"})
            self.sent += 1

    @handler("pong")
    async def on_pong(self, msg: Message) -> None:
        self.pongs += 1


class PacedServer(Node):
    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        self.send(msg.src, {"type": "pong"})


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    """The bench lab's "demo": wait for the ping-pong client's result (the paced one has none)."""
    with trio.move_on_after(duration):
        await cluster.wait_for_status("client", lambda s: s.get("done") is True)
    return ScenarioResult.ok("benchmark done")


def bench_lab(workload: str, warmup: float, duration: float) -> Lab:
    """A lab whose nodes and scenario are this file's, for ``LabApp`` to run."""
    if workload == "pingpong":
        classes = ("BenchServer", "BenchClient")
        config: dict[str, Any] = {"concurrency": 1, "warmup": warmup, "duration": duration}
    else:
        classes = ("PacedServer", "PacedClient")
        config = {"interval": PACED_INTERVAL, "burst": PACED_BURST}
    return Lab(
        number=99,
        slug=f"99-bench-{workload}",
        title=f"benchmark: {workload}",
        path=THIS_FILE.parent,
        solution=THIS_FILE,
        scenario_file=THIS_FILE,
        duration=RUN_TIMEOUT,
        roles=(RoleSpec("server", classes[0], 1), RoleSpec("client", classes[1], 1)),
        config=config,
    )


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Sample:
    """Counters at one instant of a run."""

    wall: float
    cpu: float
    emitted: int  # trace events recorded by the runtime so far
    drained: int  # of those, taken by the screen (the emitted count when there is no screen)

    @classmethod
    def now(cls, emitted: int, drained: int) -> Sample:
        return cls(time.perf_counter(), time.process_time(), emitted, drained)


@dataclass
class RunResult:
    variant: str
    seconds: float  # the harness's window
    events_per_s: float  # trace events recorded by the runtime per second, in the window
    cpu_share: float  # CPU seconds per wall second of this process, in the window
    rts_per_s: float | None = None  # ping-pong: the client's round trips/s (its own window)
    drained_per_s: float | None = None  # in the app: events the screen took per second
    backlog: int | None = None  # in the app: events recorded but not yet taken, at window end
    refreshes: list[float] = field(default_factory=list)  # in the app: seconds per redraw
    batches: list[int] = field(default_factory=list)  # in the app: events taken per redraw
    lags: list[float] = field(default_factory=list)  # in the app: age of each batch's oldest


def _window(a: Sample, b: Sample, variant: str) -> RunResult:
    seconds = b.wall - a.wall
    return RunResult(
        variant=variant,
        seconds=seconds,
        events_per_s=(b.emitted - a.emitted) / seconds,
        cpu_share=(b.cpu - a.cpu) / seconds,
    )


def _spec(workload: str, warmup: float, duration: float) -> ClusterSpec:
    lab = bench_lab(workload, warmup, duration)
    classes = {"BenchServer": BenchServer, "BenchClient": BenchClient}
    classes |= {"PacedServer": PacedServer, "PacedClient": PacedClient}
    return ClusterSpec(
        tuple(NodeSpec(r.role, r.role, classes[r.class_name]) for r in lab.roles), lab.config
    )


async def headless(
    workload: str, warmup: float, duration: float, seed: int, *, collect: bool
) -> RunResult:
    """The workload with no screen. ``collect``: keep every event and hand each to a list, as
    the live app's bridge does (without it: ``keep_events=False`` and no subscriber)."""
    taken: list[TraceEvent] = []
    variant = "headless, events kept and collected" if collect else "headless, no subscriber"
    with trio.fail_after(warmup + duration + RUN_TIMEOUT):
        async with open_cluster(
            _spec(workload, warmup, duration), seed=seed, keep_events=collect
        ) as cluster:
            if collect:
                cluster.trace.subscribe(taken.append)
            counts = cluster.trace.counts
            await trio.sleep(warmup + 0.1)
            a = Sample.now(counts.total(), counts.total())
            await trio.sleep(duration - 0.2)
            b = Sample.now(counts.total(), counts.total())
            result = _window(a, b, variant)
            if workload == "pingpong":
                status = await cluster.wait_for_status("client", lambda s: s.get("done") is True)
                result.rts_per_s = _rts(status)
    return result


def _rts(status: dict[str, Any]) -> float:
    window = status["result"]
    return float(window["round_trips"]) / float(window["seconds"])


class MeteredLabApp(LabApp):
    """The live app, counting and timing what each redraw takes.

    With ``redraw=False`` it takes the events and throws them away: the cost of the bridge (the
    cluster's thread beside the app's) alone, without the model and the widgets.
    """

    def __init__(self, lab: Lab, *, seed: int, redraw: bool = True) -> None:
        super().__init__(lab, impl=None, placement="inprocess", seed=seed)
        self.redraw = redraw
        self.drained = 0
        self.refreshes: list[float] = []  # seconds per redraw (fold + show)
        self.batches: list[int] = []  # events taken per redraw
        self.lags: list[float] = []  # how old the oldest event taken was, in seconds
        #: the ping-pong client's last status (its result, once done): read from the events
        self.client_status: dict[str, Any] = {}
        take = self.bridge.take_events

        def counting_take() -> list[TraceEvent]:
            events = take()
            self.drained += len(events)
            self.batches.append(len(events))
            now = self.bridge.now()
            if events and now is not None:
                self.lags.append(now - events[0].t)
            for event in events:
                if event.kind == "status" and event.get("node") == "client":
                    self.client_status.update(event["fields"])
            return events

        self.bridge.take_events = counting_take  # type: ignore[method-assign]

    def refresh_from_cluster(self) -> None:
        began = time.perf_counter()
        if self.redraw:
            super().refresh_from_cluster()
        else:
            self.bridge.take_events()
        self.refreshes.append(time.perf_counter() - began)


async def in_app(
    workload: str, warmup: float, duration: float, seed: int, *, hz: float, redraw: bool = True
) -> RunResult:
    """The workload inside the live app, in a headless terminal of ``TERMINAL`` cells, the app
    taking the new events ``hz`` times a second (``tui.app.REFRESH_INTERVAL``)."""
    app = MeteredLabApp(bench_lab(workload, warmup, duration), seed=seed, redraw=redraw)
    shipped = live.REFRESH_INTERVAL
    live.REFRESH_INTERVAL = 1 / hz  # read by LabApp.on_mount
    try:
        async with app.run_test(size=TERMINAL):
            result = await _measure_app(app, workload, warmup, duration)
    finally:
        live.REFRESH_INTERVAL = shipped
    return result


async def _measure_app(
    app: MeteredLabApp, workload: str, warmup: float, duration: float
) -> RunResult:
    bridge = app.bridge
    assert isinstance(bridge, ProcessBridge)  # a live placement: the cluster's own process
    began = time.perf_counter()
    while bridge.now() is None:
        if time.perf_counter() - began > RUN_TIMEOUT:
            raise RuntimeError("the app's cluster did not start")
        await asyncio.sleep(0.005)
    # The cluster runs in a process of its own: what it has recorded is the sequence number of
    # the last event it sent over (at most one relay, 20 ms, behind).
    await asyncio.sleep(warmup + 0.1)
    a = Sample.now(bridge.last_seq, app.drained)
    first = len(app.refreshes), len(app.lags)
    await asyncio.sleep(duration - 0.2)
    b = Sample.now(bridge.last_seq, app.drained)
    result = _window(a, b, "")
    result.drained_per_s = (b.drained - a.drained) / result.seconds
    result.backlog = b.emitted - b.drained
    result.refreshes = app.refreshes[first[0] :]
    result.batches = app.batches[first[0] :]
    result.lags = app.lags[first[1] :]
    if workload == "pingpong":
        while not app.client_status.get("done"):
            if time.perf_counter() - began > warmup + duration + RUN_TIMEOUT:
                raise RuntimeError("the ping-pong client never reported")
            await asyncio.sleep(0.02)
        result.rts_per_s = _rts(app.client_status)
    return result


#: How each variant runs, and its name in the report.
HOWS: dict[str, str] = {
    "headless": "headless, no subscriber",
    "collect": "headless, events kept and collected",
    "guest": "in the app, events taken 15/s, no redraw",
    "app": "in the TUI, redrawn 15/s (as shipped)",
    "app4": "in the TUI, redrawn 4/s",
}
VARIANTS: tuple[tuple[str, str], ...] = (
    # (workload, how)
    ("pingpong", "headless"),
    ("pingpong", "collect"),
    ("pingpong", "guest"),
    ("pingpong", "app"),
    ("pingpong", "app4"),
    ("paced", "headless"),
    ("paced", "guest"),
    ("paced", "app"),
    ("paced", "app4"),
)


def measure(workload: str, how: str, warmup: float, duration: float, seed: int) -> RunResult:
    if workload == "paced":
        # Longer: a late tick's catch-up burst lands in or out of the window, which a short
        # window would show as noise in the event rate.
        duration *= PACED_WINDOW_FACTOR
    if how in ("headless", "collect"):
        run = partial(headless, workload, warmup, duration, seed, collect=how == "collect")
        result = trio.run(run)
    else:
        hz = 4.0 if how == "app4" else 15.0
        result = asyncio.run(in_app(workload, warmup, duration, seed, hz=hz, redraw=how != "guest"))
    result.variant = HOWS[how]
    return result


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def report(results: dict[tuple[str, str], list[RunResult]], reps: int) -> None:
    print()
    print(f"Machine: {machine()}")
    print()
    print(
        f"(e) TUI, median of {reps} rounds; terminal {TERMINAL[0]}x{TERMINAL[1]} (headless); "
        "ratios are to the headless run without subscriber, round by round"
    )
    for workload, title in (
        ("pingpong", "ping-pong, sequential rpc, flat out"),
        ("paced", f"paced: {PACED_BURST / PACED_INTERVAL:,.0f} pings/s, each answered"),
    ):
        _table(workload, title, results)
        print()
    paced = _ratio(results, "paced", "app")
    pingpong = _ratio(results, "pingpong", "app")
    runs = results[("paced", "app")]
    produced = _median([r.events_per_s for r in runs])
    drained = _median([r.drained_per_s or 0.0 for r in runs])
    lag = max((max(r.lags, default=0.0) for r in runs), default=0.0)
    # Keeping up: at the window's end, no more events wait than one redraw ever took at once.
    kept_up = all((r.backlog or 0) <= max(r.batches, default=0) for r in runs)
    print(
        f"Paced, ~{GOAL_EVENTS:,.0f} events/s offered: the runtime keeps {paced:.2f} of its "
        f"headless event rate under the screen (goal >= {GOAL_RATIO}: "
        f"{'MET' if paced >= GOAL_RATIO else 'NOT MET'})"
    )
    print(
        f"  the screen took {drained:,.0f} of the {produced:,.0f} events/s produced, "
        f"{'with no growing backlog in any round' if kept_up else 'and fell behind'}; "
        f"an event waited at most {_ms(lag)} ms to be shown"
    )
    print(
        f"Flat out (ping-pong): the runtime keeps {pingpong:.2f} of its headless round trips/s "
        f"under the screen (goal >= {GOAL_RATIO}: {'MET' if pingpong >= GOAL_RATIO else 'NOT MET'})"
    )


def _ratio(results: dict[tuple[str, str], list[RunResult]], workload: str, how: str) -> float:
    def rate(r: RunResult) -> float:
        return r.rts_per_s if r.rts_per_s is not None else r.events_per_s

    pairs = zip(results[(workload, how)], results[(workload, "headless")], strict=True)
    return _median([rate(r) / rate(h) for r, h in pairs])


def _table(workload: str, title: str, results: dict[tuple[str, str], list[RunResult]]) -> None:
    rts = workload == "pingpong"
    header = (
        f"{title:<44}{'rt/s' if rts else '':>7}{'events/s':>9}{'ratio':>7}{'CPU':>6}"
        f"{'taken/s':>9}{'lag max':>9}{'redraws/s':>10}{'redraw p50/max':>16}"
    )
    print(header)
    print("-" * len(header))
    for how in HOWS:
        runs = results.get((workload, how))
        if not runs:
            continue
        row = f"{HOWS[how]:<44}"
        row += f"{_median([r.rts_per_s or 0.0 for r in runs]):>7,.0f}" if rts else " " * 7
        row += f"{_median([r.events_per_s for r in runs]):>9,.0f}"
        row += f"{_ratio(results, workload, how):>7.2f}"
        row += f"{_median([r.cpu_share for r in runs]):>6.0%}"
        if how not in ("headless", "collect"):
            times = sorted(t for r in runs for t in r.refreshes)
            lag = max((max(r.lags, default=0.0) for r in runs), default=0.0)
            row += f"{_median([r.drained_per_s or 0.0 for r in runs]):>9,.0f}"
            row += f"{_ms(lag) + ' ms':>9}"
            row += f"{_median([len(r.refreshes) / r.seconds for r in runs]):>10.1f}"
            row += f"{_ms(_median(times)) + '/' + _ms(times[-1] if times else 0) + ' ms':>16}"
        print(row)


# -- screenshots ---------------------------------------------------------------------------------

LAB0_SEED = 3
LAB0_DROP = 0.3
TRACE_NAME = f"lab0-seed{LAB0_SEED}.jsonl"
SCREENSHOT_SIZE = (110, 32)
#: The moment both screenshots show: lab 0 after 4.5 s, three pongs in, pings being dropped.
SCREENSHOT_TIME = 4.5


def write_lab0_trace(
    path: Path, *, seed: int = LAB0_SEED, drop: float = LAB0_DROP
) -> list[TraceEvent]:
    """Lab 0's demo in the simulator, as ``distlab run 0 --sim --seed 3 --drop 0.3 --trace``.

    Loads lab 0 alone, so that another lab being written cannot break it.
    """
    lab = load_lab(labs_dir() / "00-ping")
    spec, run = lab.cluster_spec(), lab.scenario()
    faults = FaultState(LinkFaults(drop=drop))

    async def main() -> None:
        async with open_cluster(
            spec, seed=seed, placement="sim", faults=faults, trace_path=path
        ) as cluster:
            await run(cluster, duration=lab.duration)

    run_simulated(main, seed=seed)
    return list(read_trace(path))


class FrozenLabApp(LabApp):
    """The live app's main screen showing a fixed model: no cluster, nothing moves.

    For screenshots and snapshot tests: the live app's layout, widgets and keys, in a state that
    does not depend on the clock.
    """

    def __init__(self, model: ClusterModel) -> None:
        super().__init__(load_lab(labs_dir() / "00-ping"), impl=None, placement="sim", seed=3)
        self.model = model
        self.bridge.start = lambda: None  # type: ignore[method-assign]  # no cluster

    def on_ready(self) -> None:
        self.refresh_from_cluster()

    def refresh_from_cluster(self) -> None:
        """Show the fixed model (the live app folds the cluster's new events here)."""
        if self.is_running:  # the refresh timer may fire once more while the app shuts down
            self.show_model()


def lab_screen_app(events: Sequence[TraceEvent], t: float = SCREENSHOT_TIME) -> FrozenLabApp:
    """The live main screen as it was at time ``t`` of a run with these events."""
    model = ClusterModel()
    model.apply_all(events[: cursor_at_time(events, t)])
    return FrozenLabApp(model)


def replay_screen_app(path: Path, t: float = SCREENSHOT_TIME) -> ReplayApp:
    """The replay screen on the trace at ``path``, its cursor at time ``t``."""
    events = list(read_trace(path))
    return ReplayApp(path, events, cursor=cursor_at_time(events, t))


async def _screenshot(app: LabApp | ReplayApp, size: tuple[int, int]) -> str:
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        return app.export_screenshot(title=app.title)


def write_screenshots(
    directory: Path, *, size: tuple[int, int] = SCREENSHOT_SIZE, png: bool = False
) -> list[Path]:
    """Write ``lab0.svg`` (the live main screen) and ``replay.svg`` into ``directory``.

    Both show lab 0 in the simulator (seed 3, drop 0.3) at 4.5 s. With ``png``, also a PNG of
    each, made with ``rsvg-convert`` (its PNGs are for looking at; the SVGs are the screenshots).
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="distlab-screens-") as tmp:
        trace = Path(tmp) / TRACE_NAME
        events = write_lab0_trace(trace)
        for name, app in (
            ("lab0.svg", lab_screen_app(events)),
            ("replay.svg", replay_screen_app(trace)),
        ):
            svg = asyncio.run(_screenshot(app, size))
            out = directory / name
            out.write_text(svg, encoding="utf-8")
            written.append(out)
            if png:
                written.append(svg_to_png(out))
    return written


def svg_to_png(svg: Path) -> Path:
    """A PNG of a Textual SVG screenshot, with ``rsvg-convert`` (Debian: librsvg2-bin).

    rsvg-convert collapses runs of no-break spaces, which Textual writes for blank cells, and
    would shift text left: they become plain spaces that XML is told to preserve.
    """
    tool = shutil.which("rsvg-convert")
    if tool is None:
        raise RuntimeError("rsvg-convert not found (apt-get install librsvg2-bin)")
    text = svg.read_text(encoding="utf-8").replace("&#160;", " ")
    text = text.replace("<svg ", '<svg xml:space="preserve" ', 1)
    png = svg.with_suffix(".png")
    subprocess.run([tool, "-o", str(png)], input=text.encode(), check=True, timeout=60)
    return png


# -- the harness ---------------------------------------------------------------------------------


# -- lab 4 under the screen: does the leader hold? ----------------------------------------------


async def lab4_term_under_screen(placement: Placement, seconds: float, seed: int) -> str:
    """Lab 4 in the live app with no faults: the replicas' highest term once the demo (which
    crashes the leader once) has ended, and ``seconds`` later. A stable leader keeps it."""
    app = LabApp(find_lab("4"), impl=None, placement=placement, seed=seed)

    def term() -> int:
        terms = [v.status.get("term", 0) for n, v in app.model.nodes.items() if "replica" in n]
        return max((t for t in terms if isinstance(t, int)), default=0)

    async with app.run_test(size=TERMINAL):
        began = time.perf_counter()
        while app.bridge.verdict is None:
            if time.perf_counter() - began > 120:
                raise RuntimeError("lab 4's demo did not end within 120 s")
            await asyncio.sleep(0.1)
        verdict = "PASS" if app.bridge.verdict.passed else "FAIL"
        await asyncio.sleep(1.0)  # the demo's own failover settles
        after_demo = term()
        await asyncio.sleep(seconds)
        later = term()
    held = "held" if later == after_demo else "MOVED"
    return (
        f"lab 4 under the screen ({placement}, seed {seed}): demo {verdict}; term {after_demo} "
        f"after the demo, {later} after {seconds:g} s more with no faults: the leader {held}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tui", description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="rounds of every variant")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before each window")
    parser.add_argument("--duration", type=float, default=2.5, help="seconds per window")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--screenshots", type=Path, metavar="DIR", help="write lab0.svg and replay.svg to DIR"
    )
    parser.add_argument("--png", action="store_true", help="with --screenshots: PNGs too")
    parser.add_argument(
        "--lab4",
        type=float,
        metavar="SECONDS",
        help="only: lab 4 in the screen, live and --sim; does its term hold for SECONDS?",
    )
    args = parser.parse_args(argv)
    if args.lab4 is not None:
        for placement in ("processes", "inprocess", "sim"):
            print(asyncio.run(lab4_term_under_screen(placement, args.lab4, args.seed)), flush=True)
        return
    if args.screenshots is not None:
        for path in write_screenshots(args.screenshots, png=args.png):
            print(path)
        return

    began = time.perf_counter()
    load_before = load_average()
    print(f"distlab TUI benchmark — {machine()}", flush=True)
    results: dict[tuple[str, str], list[RunResult]] = {v: [] for v in VARIANTS}
    for rep in range(args.reps):
        for workload, how in VARIANTS:
            result = measure(workload, how, args.warmup, args.duration, args.seed + rep)
            results[(workload, how)].append(result)
            rts = f"{result.rts_per_s:>7,.0f} rt/s" if result.rts_per_s is not None else ""
            print(
                f"  round {rep + 1}/{args.reps}  {workload:<8} {result.variant:<42} {rts:>12}"
                f"{result.events_per_s:>7,.0f} events/s  CPU {result.cpu_share:.0%}",
                flush=True,
            )
    report(results, args.reps)
    print()
    print(f"1-min load average: {load_before} before the run, {load_average()} after")
    print(f"Total benchmark time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
