"""The boundary between trio and Textual: the lab's cluster runs in a thread of its own.

Textual runs on asyncio and the runtime on trio. The cluster gets its own thread and its own trio
loop, so that redrawing the screen never delays a node's timer (in one loop, a redraw held up
heartbeats long enough for followers to start elections), and so that a node that never yields
freezes the cluster, never the screen: the app sees the cluster's loop stop ticking, says which
node is stuck where, and still quits on ``q``. The boundary stays narrow on purpose, and one-way
in each direction:

- runtime -> screen: every trace event is appended to a thread-safe queue and nothing more, so the
  runtime never waits on the screen. The app takes the events at its own pace (``take_events``)
  and folds them into a ``ClusterModel``; what went wrong (a refused command, the end of the run,
  a hung node) is taken the same way (``take_notices``).
- screen -> runtime: commands (crash, restart, pause, faults...) return at once; each runs as a
  task in the bridge's nursery, started through trio's token (which is thread-safe). A command
  that fails becomes a notice, never an exception in the app.

A graded test is the other way the app reaches the runtime: ``run_graded_test`` runs
``distlab grade`` in a subprocess on the host loop and reads its JSON report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias, TypeVar

import outcome
import trio

from distlab._cluster import Cluster, Placement, open_cluster
from distlab._errors import DistlabError, error_words
from distlab._labs import Lab, ScenarioResult, play
from distlab._sim import PacedClock, deterministic_scheduling
from distlab._trace import TraceEvent
from distlab._watchdog import HUNG_AFTER, LoopWatchdog

Severity: TypeAlias = Literal["information", "warning", "error"]
Command: TypeAlias = Callable[[Cluster], Awaitable[None]]

#: Seconds to wait for the cluster to stop (every node stopped, every message given a fate).
STOP_TIMEOUT = 10.0
GIL_SWITCH_INTERVAL = 0.001
#: Seconds ``stop`` waits for a hung cluster to stop once it has been told to.
UNSTICK_WAIT = 2.0
#: What the fault keys change, and the bounds of each setting.
FAULT_LIMITS: dict[str, tuple[float, float]] = {
    "drop": (0.0, 1.0),
    "duplicate": (0.0, 1.0),
    "delay": (0.0, 10.0),
    "jitter": (0.0, 10.0),
}


@dataclass(frozen=True)
class Notice:
    """Something the student should be told: a refused command, a verdict, the end of the run."""

    text: str
    severity: Severity = "information"


class ClusterBridge:
    """The lab's cluster, run by trio in a thread of its own beside the app's asyncio loop.

    ``start()`` (from inside the app's loop) starts the cluster and the lab's demo scenario;
    ``stop()`` ends them and waits until the cluster has shut down. In between, the app calls
    ``take_events()``, ``take_notices()`` and ``check_alive()`` on a timer, and the command
    methods on key presses.
    """

    def __init__(
        self, lab: Lab, *, impl: Path | None, placement: Placement, seed: int, rate: float = 1.0
    ) -> None:
        self.lab = lab
        #: with --sim: virtual seconds per wall second while every node waits
        self.rate = rate
        self.placement = placement
        self.seed = seed
        # Loaded now, so that a student file that does not import fails before any screen.
        self.spec = lab.cluster_spec(impl)
        self._scenario = lab.scenario()
        self.cluster: Cluster | None = None
        #: The demo scenario's verdict, once it has ended.
        self.verdict: ScenarioResult | None = None
        self.started = False
        self.finished = False
        #: where the cluster's loop is stuck, in words, once it has stopped ticking
        self.hung: str | None = None
        #: the node whose code it is stuck in (None if it is stuck elsewhere)
        self.hung_node: str | None = None
        self._events: deque[TraceEvent] = deque()
        self._notices: deque[Notice] = deque()
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: threading.Thread | None = None
        self._watchdog = LoopWatchdog()
        self._now: float | None = None  # the cluster's time at its loop's last tick
        # Commands run one at a time, in the order of the keys: "crash, restart" pressed quickly
        # must not become a restart then a crash (trio runs ready tasks in any order).
        self._commands: trio.MemorySendChannel[tuple[str, Command]] | None = None
        self._stop: trio.Event | None = None
        self._stop_requested = False
        self._done = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # The simulator's deterministic scheduling is a process-wide switch of trio's: it must
        # stay on for as long as the run lives, not just while it is being started.
        self._scheduling = contextlib.ExitStack()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the cluster's thread (call from inside the app's asyncio loop); once."""
        if self.started:
            return
        self._loop = asyncio.get_running_loop()
        clock: trio.abc.Clock | None = None
        if self.placement == "sim":
            self._scheduling.enter_context(deterministic_scheduling(self.seed))
            # Virtual time at wall speed, that waits for the cluster when it falls behind: node
            # timing students can watch, never starved.
            clock = PacedClock(rate=self.rate)
        self.started = True
        # The screen's thread hands the interpreter over every GIL_SWITCH_INTERVAL s (Python's
        # default is 5 ms): a node's timer in the cluster's thread waits at most that long.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        # A daemon: a node stuck in a loop must not keep the student's terminal once they quit.
        self._thread = threading.Thread(
            target=self._run, args=(clock,), name="distlab-cluster", daemon=True
        )
        self._thread.start()

    def _run(self, clock: trio.abc.Clock | None) -> None:
        def run() -> None:
            trio.run(self._main, clock=clock)

        result = outcome.capture(run)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the app's loop closed meanwhile
                loop.call_soon_threadsafe(self._on_done, result)
                return
        self._on_done(result)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the cluster and wait until it has (at most ``timeout`` seconds; less if it is
        stuck in a call that cannot be stopped: its thread, a daemon, is then left behind)."""
        if not self.started or self.finished:
            return
        self._stop_requested = True
        if self._token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._request_stop)
        self.check_alive()
        if self._watchdog.silent_for() > HUNG_AFTER:  # stuck in a call that cannot be stopped
            timeout = min(timeout, UNSTICK_WAIT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout)

    def join(self, timeout: float) -> bool:
        """Wait (blocking) until the cluster's thread has ended; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def check_alive(self) -> str | None:
        """Where the cluster's loop is stuck, in words, when it has just been found stuck (a
        node that never yields: it is then stopped, see ``distlab._watchdog``); else None."""
        if not self.started or self.finished:
            return None
        hang = self._watchdog.check()
        if hang is None:
            return None
        self.hung_node, self.hung = hang
        self._notices.append(
            Notice(
                f"{self.hung} did not yield for over {HUNG_AFTER:g} s, so distlab stopped it "
                "(a loop with no await, or a blocking call such as time.sleep?)",
                "error",
            )
        )
        return self.hung

    def _note_time(self) -> None:
        if self.cluster is not None:
            self._now = self.cluster.now()

    def now(self) -> float | None:
        """The cluster's time (virtual in the simulator) as of its loop's last tick, or None
        before it runs. Read here, not from the cluster: its clock belongs to its own thread."""
        return self._now

    def _request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        if self._stop_requested:
            self._stop.set()
        # Every event, from run_start on, goes to the screen's list as it happens. The trace
        # keeps them only while the demo scenario runs (its checks read them): a long session
        # would otherwise grow without bound.
        async with open_cluster(
            self.spec, seed=self.seed, placement=self.placement, on_event=self._record
        ) as cluster:
            self.cluster = cluster
            send, receive = trio.open_memory_channel[tuple[str, Command]](math.inf)
            self._commands = send
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watchdog.tick, self._note_time)
                nursery.start_soon(self._run_scenario, cluster)
                nursery.start_soon(self._run_commands, receive, cluster)
                await self._stop.wait()  # the cluster runs until the student quits
                self._commands = None
                nursery.cancel_scope.cancel()
            # Leave open_cluster normally, not by cancelling around it: with one process per
            # node, its shutdown waits on tasks that a cancellation around it would cancel too.

    def _record(self, event: TraceEvent) -> None:
        self._events.append(event)

    def _on_done(self, result: outcome.Outcome[None]) -> None:
        self.finished = True
        self._commands = None
        self._scheduling.close()
        if isinstance(result, outcome.Error):
            self._notices.append(
                Notice(f"the cluster stopped: {error_words(result.error)}", "error")
            )
        self._done.set()

    async def _run_scenario(self, cluster: Cluster) -> None:
        try:
            verdict = await play(self._scenario, cluster, duration=self.lab.duration)
        finally:
            cluster.trace.stop_keeping()
        self.verdict = verdict
        word = "PASS" if verdict.passed else "FAIL"
        self._notices.append(
            Notice(
                f"demo scenario: {word} {verdict.summary}",
                "information" if verdict.passed else "error",
            )
        )

    # -- what happened ------------------------------------------------------------------------

    def take_events(self) -> list[TraceEvent]:
        """Every trace event since the last call, in order."""
        return _drain(self._events)

    def take_notices(self) -> list[Notice]:
        return _drain(self._notices)

    def state(self, node: str) -> str | None:
        """The node's state in the runtime (``up``, ``crashed``...), or None if unknown."""
        if self.cluster is None or node not in self.cluster.names:
            return None
        return self.cluster.state(node)

    # -- commands: each returns at once; a failure becomes a notice --------------------------

    def crash(self, node: str) -> None:
        self._command(f"crash {node}", lambda cluster: cluster.crash(node))

    def restart(self, node: str) -> None:
        self._command(f"restart {node}", lambda cluster: cluster.restart(node))

    def toggle_pause(self, node: str) -> None:
        """Pause the node if it runs; resume it if it is paused."""

        async def toggle(cluster: Cluster) -> None:
            if cluster.state(node) == "paused":
                await cluster.resume(node)
            else:
                await cluster.pause(node)

        self._command(f"pause or resume {node}", toggle)

    def isolate(self, node: str) -> None:
        async def isolate(cluster: Cluster) -> None:
            cluster.network.isolate(node)

        self._command(f"isolate {node}", isolate)

    def heal(self) -> None:
        async def heal(cluster: Cluster) -> None:
            cluster.network.heal()

        self._command("heal the partitions", heal)

    def adjust_fault(self, name: str, step: float) -> None:
        """Change one default fault setting by ``step`` (seconds or probability), within bounds.

        The new value is computed when the command runs, from the setting then in force, so
        quick repeated presses add up.
        """
        low, high = FAULT_LIMITS[name]

        async def adjust(cluster: Cluster) -> None:
            current: float = getattr(cluster.network.state.default, name)
            wanted = round(min(high, max(low, current + step)), 6)
            if wanted != current:
                cluster.network.set_faults(**{name: wanted})

        self._command(f"change {name}", adjust)

    def _command(self, description: str, command: Command) -> None:
        if self._token is None or self.finished:
            self._notices.append(
                Notice(f"cannot {description}: the cluster is not running", "warning")
            )
            return

        def queue_in_trio() -> None:
            if self._commands is None:
                self._notices.append(
                    Notice(f"cannot {description}: the cluster is not running yet", "warning")
                )
                return
            self._commands.send_nowait((description, command))

        try:
            self._token.run_sync_soon(queue_in_trio)
        except trio.RunFinishedError:
            self._notices.append(Notice(f"cannot {description}: the run has ended", "warning"))

    async def _run_commands(
        self, commands: trio.MemoryReceiveChannel[tuple[str, Command]], cluster: Cluster
    ) -> None:
        async for description, command in commands:
            try:
                await command(cluster)
            except DistlabError as exc:  # refused, with a reason in plain words
                self._notices.append(Notice(str(exc), "warning"))
            except Exception as exc:  # never let a command take the cluster down with it
                self._notices.append(Notice(f"{description} failed: {error_words(exc)}", "error"))


T = TypeVar("T")


def _drain(queue: deque[T]) -> list[T]:
    """Everything in ``queue`` now, oldest first (another thread may append meanwhile)."""
    taken = []
    with contextlib.suppress(IndexError):
        for _ in range(len(queue)):
            taken.append(queue.popleft())
    return taken


# -- graded tests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradedVerdict:
    """One graded test's result, as the grader reported it."""

    test: str
    passed: bool
    summary: str


#: Characters of the grader's own output kept when it fails without a report.
OUTPUT_TAIL = 600


async def run_graded_test(
    lab: Lab, test: str, *, impl: Path | None, seed: int, grade_command: list[str] | None = None
) -> GradedVerdict:
    """Run one graded test on one seed with ``distlab grade`` in a subprocess, and read its verdict.

    A subprocess, like every grading run: student code runs under the grader's time and memory
    limits, and a test that hangs cannot freeze the screen. Cancelling this coroutine interrupts
    the grader, which kills its workers. ``grade_command`` replaces ``python -m distlab grade``.
    """
    with tempfile.TemporaryDirectory(prefix="distlab-lab-grade-") as tmp:
        report_file = Path(tmp) / "report.json"
        words = [*(grade_command or [sys.executable, "-m", "distlab", "grade"]), lab.slug]
        words += ["--test", test, "--seed", str(seed), "--format", "json"]
        words += ["--output", str(report_file), "--traces", str(Path(tmp) / "traces")]
        if impl is not None:
            words += ["--impl", str(impl)]
        proc = await asyncio.create_subprocess_exec(
            *words,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        try:
            output, _ = await proc.communicate()
        finally:
            if proc.returncode is None:  # cancelled: the grader reports SIGTERM as an interrupt
                proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 5)
                if proc.returncode is None:
                    proc.kill()
        return _read_verdict(test, report_file, output.decode(errors="replace"))


def _read_verdict(test: str, report_file: Path, output: str) -> GradedVerdict:
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = output.strip()[-OUTPUT_TAIL:]
        return GradedVerdict(test, False, f"the grader wrote no report: {tail}")
    if report.get("error"):
        return GradedVerdict(test, False, f"grading could not run: {report['error']}")
    for result in report.get("tests", []):
        if result.get("name") == test:
            points = f"{result.get('score', 0):g}/{result.get('points', 0):g} points"
            outcome_words = str(result.get("outcome", "not run")).replace("_", " ")
            message = result.get("message") or ""
            summary = f"{outcome_words}, {points}" + (f": {message}" if message else "")
            return GradedVerdict(test, result.get("outcome") == "passed", summary)
    return GradedVerdict(test, False, f"the grader's report has no test named {test}")
