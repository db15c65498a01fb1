"""One run of a lab's demo scenario, headless: what `distlab run` does, once per seed.

A ``RunRequest`` is plain, picklable data, so seed sweeps can ship it to worker processes; a
``RunOutcome`` is what comes back. The live log, when there is one, is fed in a way that never
changes what a simulated run does: from the trace subscriber (no extra task that could shift
trio's scheduling), so a quiet sweep and a verbose replay of the same seed record the same trace.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import outcome
import trio

from ._cluster import Cluster, Placement, open_cluster
from ._errors import NodeHostError, error_words
from ._faults import FaultState
from ._labs import ScenarioResult, find_lab, play
from ._loading import forget_loaded
from ._sim import run_simulated
from ._trace import CRASH, TraceEvent, trace_digest
from ._watchdog import HungNodeStopped, LoopWatchdog

LOG_REFRESH = 0.1  # seconds between live-log batches in live runs
WATCH_INTERVAL = 0.1  # seconds between two looks at a live run's loop (see _watchdog)
INTERRUPT_GRACE = 1.0  # seconds a live run has to stop after Ctrl-C
SIM_LOG_BATCH = 200  # events per live-log batch in simulated runs

LogSink = Callable[[list[TraceEvent]], None]


@dataclass(frozen=True)
class RunRequest:
    lab: str
    seed: int
    placement: Placement
    faults: dict[str, Any]
    duration: float | None = None
    impl: Path | None = None
    trace_path: Path | None = None


@dataclass(frozen=True)
class RunOutcome:
    seed: int
    passed: bool
    summary: str
    event_count: int
    digest: str  # SHA-256 of the trace's JSONL: equal digests, identical runs
    states: dict[str, str]
    events: list[TraceEvent] = field(default_factory=list)
    #: wall-clock and unseeded-random calls node code made, with file:line (simulated runs)
    nondeterminism: list[str] = field(default_factory=list)


def execute(request: RunRequest, *, log: LogSink | None = None) -> RunOutcome:
    """Run the lab's scenario once; ``log`` gets batches of events while it runs."""
    lab = find_lab(request.lab)
    forget_loaded()  # a sweep runs many seeds in one process: each on freshly loaded code
    spec = lab.cluster_spec(request.impl)
    scenario = lab.scenario()
    duration = request.duration or lab.duration
    simulated = request.placement == "sim"

    watchdog = LoopWatchdog()
    interrupt = _Interrupt()

    async def go() -> RunOutcome:
        pending: list[TraceEvent] = []

        def collect(event: TraceEvent) -> None:
            pending.append(event)
            if simulated and log is not None and len(pending) >= SIM_LOG_BATCH:
                _hand(log, pending)

        # The log is fed from the very first event: the nodes' starts, and any node that
        # crashes as it starts (a stub of the handout in its __init__).
        opened: list[Cluster] = []
        try:
            async with (
                open_cluster(
                    spec,
                    seed=request.seed,
                    placement=request.placement,
                    faults=FaultState.from_dict(request.faults),
                    trace_path=request.trace_path,
                    on_event=collect if log is not None else None,
                ) as cluster,
                trio.open_nursery() as nursery,
            ):
                opened.append(cluster)
                if log is not None and not simulated:
                    nursery.start_soon(_feed_log_forever, log, pending)
                if not simulated:
                    nursery.start_soon(watchdog.tick)
                result = ScenarioResult.failed("interrupted")
                with trio.CancelScope() as playing:
                    interrupt.arm(trio.lowlevel.current_trio_token(), playing)
                    result = await play(scenario, cluster, duration=duration)
                if interrupt.requested:  # Ctrl-C, passed on from the watching thread
                    raise KeyboardInterrupt
                hung = _hung_nodes(cluster.trace.of_kind(CRASH))
                if hung:  # whatever the scenario saw, a node that had to be stopped fails the run
                    result = ScenarioResult.failed(hung)
                out_of_time = not result.passed and cluster.now() >= duration - 1e-9
                cluster.record_verdict(
                    passed=result.passed,
                    story=result.summary,
                    check="the demo scenario",
                    ended=f"time ran out after {duration:g} s" if out_of_time else None,
                )
                nursery.cancel_scope.cancel()
        except* NodeHostError as group:  # the student's code ended the process it ran in
            if not opened:
                raise
            result = ScenarioResult.failed(error_words(group))
        [cluster] = opened
        if log is not None:
            _hand(log, pending)
        events = cluster.trace.events
        return RunOutcome(
            seed=request.seed,
            passed=result.passed,
            summary=result.summary,
            event_count=len(events),
            digest=trace_digest(events),
            states={name: cluster.state(name) for name in cluster.names},
            events=events,
            nondeterminism=list(cluster.nondeterminism),
        )

    if simulated:
        return run_simulated(go, seed=request.seed)
    return _run_watched(go, watchdog, interrupt)


class _Interrupt:
    """Ctrl-C in the main thread, passed to the run's loop in its own thread."""

    def __init__(self) -> None:
        self.requested = False
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None

    def arm(self, token: trio.lowlevel.TrioToken, scope: trio.CancelScope) -> None:
        self._token, self._scope = token, scope

    def request(self) -> None:
        self.requested = True
        if self._token is not None and self._scope is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._scope.cancel)


def _run_watched(
    go: Callable[[], Awaitable[RunOutcome]], watchdog: LoopWatchdog, interrupt: _Interrupt
) -> RunOutcome:
    """A live run: its loop in a thread of its own, watched from this one (``_watchdog``).

    A node that never yields is named and stopped within a few seconds, and Ctrl-C ends the run
    within about a second, hung or not.
    """
    results: list[outcome.Outcome[RunOutcome]] = []

    def run() -> None:
        results.append(outcome.capture(trio.run, go))

    thread = threading.Thread(target=run, name="distlab-run", daemon=True)
    thread.start()
    while thread.is_alive():
        try:
            thread.join(WATCH_INTERVAL)
            watchdog.check()
        except KeyboardInterrupt:
            interrupt.request()
            thread.join(INTERRUPT_GRACE)
            raise
    return results[0].unwrap()


def _hung_nodes(crashes: list[TraceEvent]) -> str:
    """The nodes distlab stopped because they never yielded (see ``_watchdog``), in words."""
    return "; ".join(
        f"node {e['node']} hung: {e['reason']}"
        for e in crashes
        if str(e.get("reason", "")).startswith(HungNodeStopped.__name__)
    )


def _hand(log: LogSink, pending: list[TraceEvent]) -> None:
    batch = pending[:]
    pending.clear()
    if batch:
        log(batch)


async def _feed_log_forever(log: LogSink, pending: list[TraceEvent]) -> None:
    """Live runs: hand the log a batch every LOG_REFRESH s, so the runtime never waits on it."""
    while True:
        await trio.sleep(LOG_REFRESH)
        _hand(log, pending)


def first_difference(
    a: list[TraceEvent], b: list[TraceEvent]
) -> tuple[int, TraceEvent | None, TraceEvent | None]:
    """The index of the first event where two traces differ, and the two events there."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x.to_json() != y.to_json():
            return i, x, y
    i = min(len(a), len(b))
    return i, (a[i] if i < len(a) else None), (b[i] if i < len(b) else None)
