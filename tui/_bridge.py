"""The boundary between trio and Textual: the lab's cluster runs as a trio guest in Textual's loop.

Textual runs on asyncio and the runtime on trio. Rather than a second thread, the cluster runs in
trio's *guest mode* on Textual's own event loop: both share one thread, so nothing here needs a
lock. The boundary stays narrow on purpose, and one-way in each direction:

- runtime -> screen: every trace event is appended to a list and nothing more, so the runtime
  never waits on the screen. The app takes the list at its own pace (``take_events``) and folds it
  into a ``ClusterModel``; what went wrong (a refused command, the end of the run) is taken the
  same way (``take_notices``).
- screen -> runtime: commands (crash, restart, pause, faults...) return at once; each runs as a
  task in the bridge's nursery, started through trio's token. A command that fails becomes a
  notice, never an exception in the app.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import outcome
import trio

from distlab._cluster import Cluster, Placement, open_cluster
from distlab._errors import DistlabError, error_words
from distlab._labs import Lab, ScenarioResult, play
from distlab._sim import PacedClock, deterministic_scheduling
from distlab._trace import TraceEvent

Severity: TypeAlias = Literal["information", "warning", "error"]
Command: TypeAlias = Callable[[Cluster], Awaitable[None]]

#: Seconds to wait for the cluster to stop (every node stopped, every message given a fate).
STOP_TIMEOUT = 10.0
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
    """The lab's cluster, run as a trio guest on the host's asyncio loop.

    ``start()`` (from inside the host loop) starts the cluster and the lab's demo scenario;
    ``stop()`` ends them and waits until the cluster has shut down. In between, the app calls
    ``take_events()`` and ``take_notices()`` on a timer, and the command methods on key presses.
    """

    def __init__(self, lab: Lab, *, impl: Path | None, placement: Placement, seed: int) -> None:
        self.lab = lab
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
        self._events: list[TraceEvent] = []
        self._notices: list[Notice] = []
        self._token: trio.lowlevel.TrioToken | None = None
        # Commands run one at a time, in the order of the keys: "crash, restart" pressed quickly
        # must not become a restart then a crash (trio runs ready tasks in any order).
        self._commands: trio.MemorySendChannel[tuple[str, Command]] | None = None
        self._stop: trio.Event | None = None
        self._stop_requested = False
        self._done = asyncio.Event()
        # The simulator's deterministic scheduling is a process-wide switch of trio's: it must
        # stay on for as long as the guest run lives, not just while it is being started.
        self._scheduling = contextlib.ExitStack()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the cluster on the running asyncio loop (call from inside that loop); once."""
        if self.started:
            return
        loop = asyncio.get_running_loop()
        clock = None
        if self.placement == "sim":
            self._scheduling.enter_context(deterministic_scheduling(self.seed))
            # Virtual time at wall speed, that waits for the cluster when it falls behind (the
            # screen shares this process): node timing students can watch, never starved.
            clock = PacedClock(rate=1.0)
        self.started = True
        trio.lowlevel.start_guest_run(
            self._main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=self._on_done,
            host_uses_signal_set_wakeup_fd=True,
            clock=clock,
        )

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the cluster and wait until it has (at most ``timeout`` seconds)."""
        if not self.started or self.finished:
            return
        self._stop_requested = True
        if self._token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._request_stop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout)

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
        events, self._events = self._events, []
        return events

    def take_notices(self) -> list[Notice]:
        notices, self._notices = self._notices, []
        return notices

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
