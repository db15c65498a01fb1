"""The grader: runs graded tests in worker processes, within budgets, and always reports.

Fail-closed by construction: a test passes only on a "passed" reported by a worker for every
planned seed. A worker that dies is reported as the tool's failure (or a memory limit), never
as a pass; a grader that is interrupted kills its workers and reports every unfinished test as
not run. Student code never runs in this process.

Results the student cannot forge. Each worker gets a pipe of its own for its results (passed
with ``pass_fds``; its number is the only thing on the worker's command line) and its job on
stdin: no file path names the results. The grader reads the pipe without blocking as it polls,
keeping every complete line (a line torn by a kill is dropped). While it grades, this process is
non-dumpable (``PR_SET_DUMPABLE`` 0), as is every worker from its first line: a process of the
same (non-root) user cannot open ``/proc/PID/fd/N`` of either. Root can; that is not defended.

Every process dies with its grade. While it grades, this process is Linux's child subreaper for
its descendants: whatever a submission starts and leaves behind (a new session, a double fork)
is reparented here when its parent dies. When a worker finishes, and once more before anything
is reported, every descendant that is not a running worker (nor a child this process had before
grading began) is recorded, SIGKILLed and reaped, until none is left. The report lists them
(``GradeReport.leftovers``) as the submission's doing; they do not change the points.

Load does not change a grade. A test's time budget starts when its worker says it is ready (its
start-up has a generous allowance of its own, whose overrun is a tool error). A worker stopped
by its budget costs no points until confirmed: the seed it was running is run again alone in a
fresh worker with a generous budget, and only a second overrun is a time limit (the seeds it
never reached then run too). A one-seed run (the printed replay) gets at least a per-seed floor.

Nondeterminism is caught. Each test's first failing seed is run once more in a fresh worker
(unless ``fail_fast``); if that run's outcome or trace digest differs, the test's message says
the code is nondeterministic, with the wall-clock and unseeded-random calls both runs recorded.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias, get_args

import trio

from distlab import __version__
from distlab._errors import DistlabError
from distlab._labs import Lab
from distlab._processes import describe_exit

from ._graded import GradedTest, graded_tests
from ._hygiene import PR_SET_DUMPABLE, Reaper, RecordReader, trusted_process
from ._results import NOT_RUN_AFTER_ERROR, GradeReport, Outcome, SeedResult, TestResult
from ._worker import hung_message

POLL_INTERVAL = 0.02  # seconds between checks on running workers
OUTPUT_TAIL = 2000  # characters of a dead worker's output kept for its message
DEFAULT_MEMORY_MB = 1024
#: Seconds a worker may take to start (interpreter, imports, the lab's tests) before it says it
#: is ready; none of it counts against a test's budget. Overrunning it is a tool error.
STARTUP_ALLOWANCE = 60.0
#: At least this many seconds for a rerun (a time limit being confirmed, a failing seed run
#: again) and for a one-seed run.
RERUN_FLOOR = 10.0

#: The worker's first lines: non-dumpable before anything else is imported, then the worker.
_BOOTSTRAP = (
    "import ctypes, runpy, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    try:\n"
    f"        ctypes.CDLL(None).prctl({PR_SET_DUMPABLE}, 0, 0, 0, 0)\n"
    "    except (OSError, AttributeError):\n"
    "        pass\n"
    "runpy.run_module('distlab.grading._worker', run_name='__main__', alter_sys=True)\n"
)

UnitKind: TypeAlias = Literal["planned", "confirm", "rest", "recheck"]
#: Why the grader stopped a worker: its budget, its start-up allowance, the whole run's budget,
#: or an interrupt.
StopReason: TypeAlias = Literal["timeout", "startup", "run_budget", "interrupt"]
_OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))


#: a failing test keeps the traces of its first few failing seeds: enough to see the failure
#: and whether it varies, never thousands of files
DEFAULT_KEPT_TRACES = 3


@dataclass(frozen=True)
class GradeOptions:
    lab: Lab
    impl: Path | None = None
    tests: tuple[str, ...] = ()  # names to run (default: all)
    seeds: int | None = None  # seeds per test (default: each test's own)
    max_seeds: int | None = None  # at most this many seeds per test (each test's own, or fewer)
    seed: int | None = None  # run only this seed
    parallel: int = 1
    time_limit: float | None = None  # override every test's budget (seconds)
    memory_mb: int = DEFAULT_MEMORY_MB
    run_budget: float | None = None  # the whole run (default: the budgets, reruns, slack)
    trace_dir: Path = Path("grading-traces")
    #: failing seeds per test whose traces are kept (the first ones); None keeps every one
    keep_traces: int | None = DEFAULT_KEPT_TRACES
    #: stop each test's worker at its first failing seed (its other seeds are reported not run;
    #: no failing seed is run again to check it is deterministic)
    fail_fast: bool = False


# --- planning ----------------------------------------------------------------------------------


@dataclass(eq=False)
class _TestRun:
    """One test's seeds in this run, and the verdict decided for each so far."""

    test: GradedTest
    planned: list[int]
    budget: float  # seconds for all its planned seeds
    results: dict[int, SeedResult] = field(default_factory=dict)
    reported: set[int] = field(default_factory=set)  # seeds whose verdict a worker reported
    rechecked: bool = False

    @property
    def rerun_budget(self) -> float:
        """A rerun's: the whole test's budget, and never less than the floor."""
        return max(self.budget, RERUN_FLOOR)


@dataclass(eq=False)
class _Unit:
    """Some seeds of one test, run by one worker."""

    run: _TestRun
    seeds: list[int]
    budget: float  # seconds from the worker's "ready"
    kind: UnitKind = "planned"
    origin: _Unit | None = None  # a confirm's: the unit stopped by its budget
    rest: list[int] = field(default_factory=list)  # a confirm's: the seeds that unit never ran
    output_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    records: RecordReader | None = None
    spawned_at: float = 0.0
    ready_at: float | None = None
    stopped_for: StopReason | None = None
    start_error: str = ""
    results: dict[int, SeedResult] = field(default_factory=dict)
    last_started: int | None = None


def discover(lab: Lab) -> list[GradedTest]:
    tests_dir = lab.path / "tests"
    found: list[GradedTest] = []
    for test_file in sorted(tests_dir.glob("test_*.py")):
        found += graded_tests(test_file)
    if not found:
        raise DistlabError(f"lab {lab.slug} has no graded tests in {tests_dir}")
    return found


def replay_command(lab: Lab, impl: Path | None, test: str, seed: int) -> str:
    words = ["distlab", "grade", str(lab.number), "--test", test, "--seed", str(seed)]
    if impl is not None:
        words += ["--impl", str(impl)]
    return shlex.join(words)


def determinism_command(lab: Lab, impl: Path | None, seed: int) -> str:
    words = ["distlab", "run", str(lab.number), "--sim", "--seed", str(seed)]
    words.append("--check-determinism")
    if impl is not None:
        words += ["--impl", str(impl)]
    return shlex.join(words)


def _plan(options: GradeOptions, tests: list[GradedTest]) -> tuple[list[_TestRun], list[_Unit]]:
    runs, units = [], []
    for test in tests:
        if options.seed is not None:
            seeds = [options.seed]
        else:
            count = options.seeds or test.seeds
            if test.runtime == "live":  # real time, real sockets: never more than its own
                count = min(count, test.seeds)
            if options.max_seeds is not None:
                count = min(count, options.max_seeds)
            seeds = list(range(1, count + 1))
        scale = len(seeds) / test.seeds
        budget = options.time_limit or max(test.budget * scale, test.budget / test.seeds)
        if options.seed is not None and options.time_limit is None:
            budget = max(budget, RERUN_FLOOR)  # a replay is never tighter than the floor
        run = _TestRun(test, seeds, budget)
        runs.append(run)
        chunks = max(1, min(len(seeds), options.parallel // max(1, len(tests))))
        size = -(-len(seeds) // chunks)
        for i in range(0, len(seeds), size):
            part = seeds[i : i + size]
            units.append(_Unit(run, part, budget * len(part) / len(seeds)))
    return runs, units


# --- the words for seeds without a reported verdict --------------------------------------------

_RAN: dict[Outcome, str] = {
    "passed": "passed",
    "failed": "failed",
    "error": "ended in an error",
    "timeout": "ran out of time",
    "memory": "ran out of memory",
    "not_run": "did not run",
}


def nondeterminism_message(
    lab: Lab, impl: Path | None, first: SeedResult, again: SeedResult, calls: list[str]
) -> str:
    """A failing seed that gave another run when run again: the code is nondeterministic."""
    seed = first.seed
    if first.outcome == again.outcome:
        how = f"both runs {_RAN[first.outcome]}, but their traces differ"
    else:
        how = f"it {_RAN[first.outcome]}, then {_RAN[again.outcome]} when run again"
    lines = [
        f"your code is nondeterministic: seed {seed} gave different runs ({how}). A seed must "
        "give the same run every time, so this test fails."
    ]
    if calls:
        lines.append("Wall-clock and unseeded-random calls recorded in the two runs:")
        lines += [f"- {call}" for call in calls]
    else:
        lines.append(
            "No wall-clock or unseeded-random call was recorded; to see where two runs of the "
            f"seed part: {determinism_command(lab, impl, seed)}"
        )
    lines.append(f"The first run: {first.message or _RAN[first.outcome]}")
    return "\n".join(lines)


def _union(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))


# --- running -----------------------------------------------------------------------------------


class _Grading:
    """The poll loop: starts workers, reads their records, stops them, decides each seed."""

    def __init__(
        self, options: GradeOptions, tests: list[GradedTest], workdir: Path, reaper: Reaper
    ) -> None:
        self.options = options
        self.workdir = workdir
        self.reaper = reaper
        self.began = time.monotonic()
        self.runs, self.waiting = _plan(options, tests)
        self.running: list[_Unit] = []
        self.run_budget = options.run_budget or (
            sum(u.budget for u in self.waiting)
            + sum(r.rerun_budget for r in self.runs)  # a rerun each
            + 30
            + 2 * len(self.waiting)  # start-ups
        )
        self.over = False  # the whole run's budget ran out
        self.interrupted = False
        self._serial = itertools.count(1)

    # -- the loop --

    def run(self) -> None:
        try:
            while self.waiting or self.running:
                self.over = self.over or time.monotonic() - self.began > self.run_budget
                while self.waiting and len(self.running) < self.options.parallel and not self.over:
                    self._start(self.waiting.pop(0))
                if self.over and not self.running:
                    break
                for unit in list(self.running):
                    self._poll(unit)
                if self.running:
                    time.sleep(POLL_INTERVAL)
        except KeyboardInterrupt:
            self.interrupted = True
            for unit in list(self.running):
                self._stop(unit, "interrupt")

    def kill_all(self) -> None:
        """Kill every worker still running, without a verdict (a second interrupt, a bug)."""
        for unit in self.running:
            self._kill_group(unit)
            if unit.proc is not None:
                unit.proc.wait()
            if unit.records is not None:
                unit.records.close()
        self.running.clear()

    def _start(self, unit: _Unit) -> None:
        options = self.options
        unit.output_file = self.workdir / f"{next(self._serial):03d}-{unit.run.test.name}.out"
        job = {
            "test_file": str(unit.run.test.source),
            "test": unit.run.test.name,
            "impl": str(options.impl.resolve()) if options.impl else None,
            "seeds": unit.seeds,
            "trace_dir": str(options.trace_dir.resolve()),
            "memory_mb": options.memory_mb,
            "cpu_seconds": int(unit.budget * 2) + 10,
            "fail_fast": options.fail_fast,
        }
        read_fd, write_fd = os.pipe()
        try:
            with unit.output_file.open("wb") as output:
                unit.proc = subprocess.Popen(
                    [sys.executable, "-c", _BOOTSTRAP, "--results-fd", str(write_fd)],
                    stdin=subprocess.PIPE,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write_fd,),
                    start_new_session=True,  # so a kill reaches every process the worker started
                    env={**os.environ, "PYTHONHASHSEED": "0"},
                )
        except OSError as exc:
            os.close(read_fd)
            unit.start_error = f"the grader could not start its worker process: {exc}"
            self._settle(unit)
            return
        finally:
            os.close(write_fd)  # the worker holds the only write end
        unit.records = RecordReader(read_fd)
        unit.spawned_at = time.monotonic()
        self.running.append(unit)
        assert unit.proc.stdin is not None
        with contextlib.suppress(OSError):  # a worker that died at once is told by its exit
            unit.proc.stdin.write(json.dumps(job).encode("utf-8"))
            unit.proc.stdin.close()

    def _poll(self, unit: _Unit) -> None:
        assert unit.proc is not None
        self._take(unit, drain=False)
        now = time.monotonic()
        if unit.proc.poll() is not None:
            self._done(unit)
        elif self.over:
            self._stop(unit, "run_budget")
        elif unit.ready_at is None and now - unit.spawned_at > STARTUP_ALLOWANCE:
            self._stop(unit, "startup")
        elif unit.ready_at is not None and now - unit.ready_at > unit.budget:
            self._stop(unit, "timeout")

    def _take(self, unit: _Unit, *, drain: bool) -> None:
        """Read the worker's new records: ready, started, and the seeds' results."""
        if unit.records is None:
            return
        for record in unit.records.drain() if drain else unit.records.read():
            if record.get("ready") is True:
                if unit.ready_at is None:
                    unit.ready_at = time.monotonic()  # the budget starts now
            elif "started" in record:
                unit.last_started = record["started"]
            elif record.get("seed") in unit.seeds and record.get("outcome") in _OUTCOMES:
                with contextlib.suppress(TypeError):
                    result = SeedResult(**record)
                    unit.results[result.seed] = result

    def _kill_group(self, unit: _Unit) -> None:
        """SIGKILL the worker's process group; what dies with it is not the submission's doing."""
        if unit.proc is None:
            return
        self.reaper.dying_groups.add(unit.proc.pid)
        with contextlib.suppress(OSError):
            os.killpg(unit.proc.pid, signal.SIGKILL)

    def _stop(self, unit: _Unit, why: StopReason) -> None:
        assert unit.proc is not None
        if unit.proc.poll() is None:
            unit.stopped_for = why
            self._kill_group(unit)
            unit.proc.wait()
        self._done(unit)

    def _done(self, unit: _Unit) -> None:
        """A worker has exited: its last records, then every process it left, then verdicts."""
        assert unit.proc is not None and unit.records is not None
        self.running.remove(unit)
        self._take(unit, drain=True)
        unit.records.close()
        if unit.proc.returncode != 0:  # it died: its node hosts die with it
            self._kill_group(unit)
        self.reaper.sweep(keep=[u.proc.pid for u in self.running if u.proc is not None])
        with contextlib.suppress(OSError):  # where there is no /proc to sweep
            os.killpg(unit.proc.pid, signal.SIGKILL)
        self._settle(unit)

    # -- verdicts --

    def _settle(self, unit: _Unit) -> None:
        run = unit.run
        if unit.kind == "recheck":
            self._settle_recheck(unit)
        else:
            for seed in unit.seeds:
                if seed in unit.results:
                    run.reported.add(seed)
                    run.results[seed] = self._noted(unit, unit.results[seed])
            missing = [s for s in unit.seeds if s not in unit.results]
            if unit.kind == "confirm":
                rerun = unit.results.get(unit.seeds[0])
                if rerun is None:
                    self._decide(run, self._missing(unit, missing + unit.rest))
                else:
                    self._after_rerun(unit, rerun)
            elif unit.stopped_for == "timeout" and missing:
                # Stopped by its budget: no verdict until the seed is run again, alone.
                confirm = _Unit(
                    run, missing[:1], run.rerun_budget, "confirm", origin=unit, rest=missing[1:]
                )
                self.waiting.insert(0, confirm)
            else:
                self._decide(run, self._missing(unit, missing))
        if not any(u.run is run for u in self.waiting + self.running):
            self._recheck_first_failure(run)

    @staticmethod
    def _decide(run: _TestRun, results: list[SeedResult]) -> None:
        for result in results:
            run.results[result.seed] = result

    def _noted(self, unit: _Unit, result: SeedResult) -> SeedResult:
        """A confirming rerun's verdict counts, and says so."""
        if unit.kind != "confirm" or unit.origin is None:
            return result
        note = (
            f"seed {result.seed} was stopped once by the {unit.origin.budget:g} s time budget, "
            f"then run again alone with {unit.budget:g} s: this is the rerun's verdict"
        )
        if result.outcome == "passed":
            return replace(result, message=f"passed when run again ({note})")
        return replace(result, message=f"{result.message}\n({note})")

    def _after_rerun(self, unit: _Unit, rerun: SeedResult) -> None:
        """The confirmed seed has its verdict: the seeds its first worker never reached run now."""
        run, seed = unit.run, unit.seeds[0]
        if not unit.rest:
            return
        if rerun.outcome == "timeout":
            self._decide(run, [SeedResult(s, "not_run", hung_message(seed)) for s in unit.rest])
        elif self.options.fail_fast and rerun.outcome != "passed":
            why = f"not run: --fail-fast stopped this test at seed {seed}"
            self._decide(run, [SeedResult(s, "not_run", why) for s in unit.rest])
        else:
            origin = unit.origin
            assert origin is not None
            budget = origin.budget * len(unit.rest) / len(origin.seeds)
            self.waiting.insert(0, _Unit(run, unit.rest, budget, "rest"))

    def _missing(self, unit: _Unit, seeds: list[int]) -> list[SeedResult]:
        """A verdict for each seed the worker did not report: the first says why, the rest are
        not run."""
        code = unit.proc.returncode if unit.proc is not None else None
        later: str | None = None  # why the seeds after the first are not run
        if (
            self.options.fail_fast
            and code == 0
            and unit.stopped_for is None
            and not unit.start_error
        ):
            failed = [s for s in unit.seeds if s in unit.results and not _passed(unit, s)]
            if failed:
                later = f"--fail-fast stopped this test at seed {failed[0]}"
        results = []
        for seed in seeds:
            if later is not None:
                results.append(SeedResult(seed, "not_run", f"not run: {later}"))
            else:
                first, later = self._why_missing(unit, seed, code)
                results.append(first)
        return results

    def _why_missing(self, unit: _Unit, seed: int, code: int | None) -> tuple[SeedResult, str]:
        """The verdict of the first seed without a reported one, and why later ones do not run."""
        if unit.start_error:
            return (
                SeedResult(seed, "error", f"{unit.start_error} (seed {seed} never ran)"),
                "the grader could not start its worker",
            )
        if unit.stopped_for == "timeout":  # a confirming rerun overran too: a real time limit
            first_budget = unit.origin.budget if unit.origin is not None else unit.budget
            return (
                SeedResult(
                    seed,
                    "timeout",
                    f"time limit: seed {seed} did not finish within the test's "
                    f"{first_budget:g} s budget, nor in {unit.budget:g} s when run again alone. "
                    "A handler that loops forever (or never awaits), or a node that floods the "
                    "network without pause, does this.",
                ),
                hung_message(seed).removeprefix("not run: "),
            )
        if unit.stopped_for == "interrupt":
            why = "the grader was interrupted"
            return SeedResult(seed, "not_run", f"not run: {why}"), why
        if unit.stopped_for == "run_budget":
            why = "the whole run's time budget ran out"
            return SeedResult(seed, "not_run", f"not run: {why}"), why
        if unit.stopped_for == "startup":
            return (
                SeedResult(
                    seed,
                    "error",
                    f"the grading worker (distlab's own process) was not ready after "
                    f"{STARTUP_ALLOWANCE:g} s, so seed {seed} never ran: the machine is "
                    "overloaded or distlab is broken. This says nothing about your code: grade "
                    "again.",
                ),
                "the grading worker did not start",
            )
        tail = self._output_tail(unit)
        told = f"; its last output:\n{tail}" if tail else ""
        if "MemoryError" in tail or code in (-signal.SIGKILL, 137):
            what = f"memory limit: the run needed more than {self.options.memory_mb} MiB"
            return SeedResult(seed, "memory", f"{what} on seed {seed}{told}"), what
        before = "it was ready to run" if unit.ready_at is None else "reporting"
        what = (
            f"the grading worker (distlab's own process) {describe_exit(code)} before {before} "
            f"seed {seed}: a failure of distlab (or of the machine), not a verdict on your code"
        )
        return (
            SeedResult(seed, "error", what + told),
            f"the grading worker failed on seed {seed}",
        )

    @staticmethod
    def _output_tail(unit: _Unit) -> str:
        if unit.output_file is None or not unit.output_file.exists():
            return ""
        text = unit.output_file.read_text(encoding="utf-8", errors="replace")
        return text[-OUTPUT_TAIL:].strip()

    # -- the first failing seed, run again --

    def _recheck_first_failure(self, run: _TestRun) -> None:
        if run.rechecked or self.options.fail_fast or self.interrupted or self.over:
            return
        if run.test.runtime == "live":
            self._recheck_live_failures(run)
            return
        failures = [r for r in run.results.values() if r.outcome not in ("passed", "not_run")]
        first = min(failures, key=lambda r: r.seed, default=None)
        # Only a verdict the test reached: a time limit was run twice already, and a worker's
        # death or a memory limit says nothing about the student's determinism.
        if first is None or first.seed not in run.reported:
            return
        if not (first.outcome == "failed" or (first.outcome == "error" and first.digest)):
            return
        run.rechecked = True
        self.waiting.insert(0, _Unit(run, [first.seed], run.rerun_budget, "recheck"))

    def _recheck_live_failures(self, run: _TestRun) -> None:
        """A live test runs on real time, which a busy machine bends: each seed that failed runs
        again alone, and costs points only if it fails again (no two live runs are alike, so
        they are not compared)."""
        failed = sorted(
            seed
            for seed, result in run.results.items()
            if result.outcome == "failed" and seed in run.reported
        )
        if failed:
            run.rechecked = True
            budget = max(run.rerun_budget, run.budget * len(failed) / len(run.planned))
            self.waiting.insert(0, _Unit(run, failed, budget, "recheck"))

    def _settle_live_recheck(self, unit: _Unit) -> None:
        for seed in unit.seeds:
            first, again = unit.run.results.get(seed), unit.results.get(seed)
            if first is None or again is None:
                continue
            if again.outcome == "passed":
                unit.run.results[seed] = replace(
                    again,
                    message=f"passed when run again alone, on real time (the first run failed: "
                    f"{first.message})",
                )
            else:
                unit.run.results[seed] = replace(
                    first, message=f"{first.message}\n(it failed again when run alone)"
                )

    def _settle_recheck(self, unit: _Unit) -> None:
        if unit.run.test.runtime == "live":
            self._settle_live_recheck(unit)
            return
        run, seed = unit.run, unit.seeds[0]
        first, again = run.results.get(seed), unit.results.get(seed)
        if first is None or again is None:
            return  # the rerun gave no verdict (stopped, or its worker died): nothing learned
        calls = _union(first.nondeterminism, again.nondeterminism)
        digests_differ = bool(first.digest and again.digest and first.digest != again.digest)
        if first.outcome == again.outcome and not digests_differ:
            run.results[seed] = replace(first, nondeterminism=calls)
            return
        message = nondeterminism_message(self.options.lab, self.options.impl, first, again, calls)
        run.results[seed] = replace(first, message=message, nondeterminism=calls)

    # -- the report --

    def results(self) -> list[TestResult]:
        why = (
            "not run: the grader was interrupted"
            if self.interrupted
            else "not run: the whole run's time budget ran out"
        )
        results = []
        for run in self.runs:
            seeds = []
            for seed in run.planned:
                result = run.results.get(seed) or SeedResult(seed, "not_run", why)
                if result.outcome != "passed" and result.replay is None:
                    command = replay_command(
                        self.options.lab, self.options.impl, run.test.name, seed
                    )
                    result = replace(result, replay=command)
                seeds.append(result)
            results.append(
                _aggregate(
                    run.test, len(run.planned), seeds, sum(s.seconds for s in seeds), run.budget
                )
            )
        return results


def _passed(unit: _Unit, seed: int) -> bool:
    return unit.results[seed].outcome == "passed"


def _aggregate(
    test: GradedTest, planned: int, seeds: list[SeedResult], seconds: float, budget: float
) -> TestResult:
    seeds = sorted(seeds, key=lambda s: s.seed)
    failure = next((s for s in seeds if s.outcome != "passed"), None)
    complete = len(seeds) == planned and failure is None
    return TestResult(
        name=test.name,
        description=test.description,
        points=test.points,
        visibility=test.visibility,
        budget=budget,
        seeds_planned=planned,
        seeds=seeds,
        outcome="passed" if complete else (failure.outcome if failure else "not_run"),
        message="" if complete else (failure.message if failure else "no seed ran"),
        seconds=seconds,
    )


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def grade(
    options: GradeOptions, *, progress: Callable[[TestResult], None] | None = None
) -> GradeReport:
    """Grade the implementation; returns a complete report, even when interrupted.

    When it returns, every process the run started is dead (see the module's doc).
    """
    began = time.monotonic()
    try:
        tests = discover(options.lab)
    except KeyboardInterrupt:
        return _report(
            options,
            [],
            began,
            interrupted=True,
            error="the grader was interrupted before it had found the lab's tests",
        )
    if options.tests:
        unknown = sorted(set(options.tests) - {t.name for t in tests})
        if unknown:
            raise DistlabError(
                f"no graded test named {', '.join(unknown)} in lab {options.lab.slug}; its "
                f"tests are: {', '.join(t.name for t in tests)}"
            )
        tests = [t for t in tests if t.name in options.tests]
    does_not_compile = _compile_error(options.impl)
    if does_not_compile:
        runs, _ = _plan(options, tests)
        not_run = [
            replace(
                _aggregate(run.test, len(run.planned), [], 0.0, run.budget),
                message=NOT_RUN_AFTER_ERROR,
            )
            for run in runs
        ]
        return _report(options, not_run, began, interrupted=False, error=does_not_compile)
    _remove_old_traces(options.trace_dir, tests)
    with (
        tempfile.TemporaryDirectory(prefix="distlab-grade-") as tmp,
        _sigterm_as_interrupt(),
        trusted_process() as reaper,
    ):
        grading = _Grading(options, tests, Path(tmp), reaper)
        try:
            grading.run()  # from here on, an interrupt still yields a report of every test
        finally:
            grading.kill_all()
            try:
                reaper.sweep()
            except KeyboardInterrupt:
                grading.interrupted = True
                reaper.sweep()
        results = [_prune_traces(result, options.keep_traces) for result in grading.results()]
    if progress is not None:
        for result in results:
            progress(result)
    return _report(
        options, results, began, interrupted=grading.interrupted, leftovers=reaper.leftovers
    )


def _remove_old_traces(trace_dir: Path, tests: list[GradedTest]) -> None:
    """A new grade of a test replaces the traces an earlier grade kept of it (only those)."""
    for test in tests:
        for old in trace_dir.glob(f"{test.name}-seed*.jsonl"):
            with contextlib.suppress(OSError):
                old.unlink()


def _prune_traces(result: TestResult, keep: int | None) -> TestResult:
    """Keep the traces of the test's first ``keep`` failing seeds; delete the others'."""
    kept = 0
    seeds = []
    for seed in result.seeds:
        if seed.trace is not None:
            kept += 1
            if keep is not None and kept > keep:
                with contextlib.suppress(OSError):
                    Path(seed.trace).unlink()
                seed = replace(seed, trace=None)
        seeds.append(seed)
    return replace(result, seeds=seeds)


def _compile_error(impl: Path | None) -> str:
    """One line if the implementation does not compile (it is compiled, never run, here)."""
    if impl is None:
        return ""
    if not impl.is_file():
        return f"{impl}: no such file (check the --impl path)"
    try:
        compile(impl.read_bytes(), str(impl), "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{impl}, line {exc.lineno}: {type(exc).__name__}: {exc.msg}"
    except ValueError as exc:  # null bytes
        return f"{impl}: not Python source ({exc})"
    return ""


def _report(
    options: GradeOptions,
    results: list[TestResult],
    began: float,
    *,
    interrupted: bool,
    error: str = "",
    leftovers: list[str] | None = None,
) -> GradeReport:
    return GradeReport(
        lab=options.lab.slug,
        impl=str(options.impl or options.lab.solution),
        tests=results,
        seconds=time.monotonic() - began,
        versions={
            "distlab": __version__,
            "python": platform.python_version(),
            "trio": trio.__version__,
        },
        interrupted=interrupted,
        error=error,
        leftovers=list(leftovers or []),
    )
