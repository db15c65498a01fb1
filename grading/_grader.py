"""The grader: runs graded tests in worker processes, within budgets, and always reports.

Fail-closed by construction: a test passes only on a recorded "passed" for every planned seed.
A worker that runs past its budget is killed and its running seed reported as a time-limit
failure; one that dies is reported with its exit code and the tail of its output; a grader that
is interrupted kills its workers and reports every unfinished test as not run. Student code
never runs in this process.
"""

from __future__ import annotations

import contextlib
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
from typing import Any

import trio

from distlab import __version__
from distlab._errors import DistlabError
from distlab._labs import Lab
from distlab._processes import describe_exit

from ._graded import GradedTest, graded_tests
from ._results import GradeReport, Outcome, SeedResult, TestResult

POLL_INTERVAL = 0.02  # seconds between checks on running workers
OUTPUT_TAIL = 2000  # characters of a dead worker's output kept for its message
DEFAULT_MEMORY_MB = 1024


@dataclass(frozen=True)
class GradeOptions:
    lab: Lab
    impl: Path | None = None
    tests: tuple[str, ...] = ()  # names to run (default: all)
    seeds: int | None = None  # seeds per test (default: each test's own)
    seed: int | None = None  # run only this seed
    parallel: int = 1
    time_limit: float | None = None  # override every test's budget (seconds)
    memory_mb: int = DEFAULT_MEMORY_MB
    run_budget: float | None = None  # the whole run (default: the sum of the budgets)
    trace_dir: Path = Path("grading-traces")
    #: stop each test's worker at its first failing seed (its other seeds are reported not run)
    fail_fast: bool = False


@dataclass
class _Unit:
    """Some seeds of one test, run by one worker."""

    test: GradedTest
    seeds: list[int]
    budget: float
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    killed_for: str | None = None  # "timeout" or "interrupt"
    results: dict[int, SeedResult] = field(default_factory=dict)
    last_started: int | None = None

    @property
    def results_file(self) -> Path:
        return self.workdir / f"{self.test.name}-{self.seeds[0]}.jsonl"

    @property
    def output_file(self) -> Path:
        return self.workdir / f"{self.test.name}-{self.seeds[0]}.out"


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


def _plan(options: GradeOptions, tests: list[GradedTest], workdir: Path) -> list[_Unit]:
    units = []
    for test in tests:
        if options.seed is not None:
            seeds = [options.seed]
        else:
            seeds = list(range(1, (options.seeds or test.seeds) + 1))
        scale = len(seeds) / test.seeds
        budget = options.time_limit or max(test.budget * scale, test.budget / test.seeds)
        chunks = max(1, min(len(seeds), options.parallel // max(1, len(tests))))
        size = -(-len(seeds) // chunks)
        for i in range(0, len(seeds), size):
            part = seeds[i : i + size]
            units.append(_Unit(test, part, budget * len(part) / len(seeds), workdir))
    return units


def _start(unit: _Unit, options: GradeOptions) -> None:
    job = {
        "test_file": str(unit.test.source),
        "test": unit.test.name,
        "impl": str(options.impl.resolve()) if options.impl else None,
        "seeds": unit.seeds,
        "results": str(unit.results_file),
        "trace_dir": str(options.trace_dir.resolve()),
        "memory_mb": options.memory_mb,
        "cpu_seconds": int(unit.budget * 2) + 10,
        "fail_fast": options.fail_fast,
    }
    job_file = unit.workdir / f"{unit.test.name}-{unit.seeds[0]}.job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    with unit.output_file.open("wb") as output:
        unit.proc = subprocess.Popen(
            [sys.executable, "-m", "grading._worker", str(job_file)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so a kill reaches every process the worker started
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    unit.started_at = time.monotonic()


def _kill(unit: _Unit, why: str) -> None:
    if unit.proc is not None and unit.proc.poll() is None:
        unit.killed_for = why
        with contextlib.suppress(ProcessLookupError):
            os.killpg(unit.proc.pid, signal.SIGKILL)
        unit.proc.wait()


def _read_results(unit: _Unit) -> None:
    if not unit.results_file.exists():
        return
    for line in unit.results_file.read_text(encoding="utf-8").splitlines():
        if not line.endswith("}"):
            continue  # torn by a kill
        record: dict[str, Any] = json.loads(line)
        if "started" in record:
            unit.last_started = record["started"]
        else:
            result = SeedResult(**record)
            unit.results[result.seed] = result


def _output_tail(unit: _Unit) -> str:
    if not unit.output_file.exists():
        return ""
    return unit.output_file.read_text(encoding="utf-8", errors="replace")[-OUTPUT_TAIL:].strip()


def _finish(unit: _Unit, options: GradeOptions) -> list[SeedResult]:
    """Every planned seed gets a result: recorded, or why there is none."""
    _read_results(unit)
    code = unit.proc.returncode if unit.proc is not None else None
    tail = _output_tail(unit)
    results = []
    reason: tuple[Outcome, str] | None = None
    if options.fail_fast and code == 0 and unit.killed_for is None:
        failed = [r.seed for r in unit.results.values() if r.outcome != "passed"]
        if failed:
            reason = ("not_run", f"--fail-fast stopped this test at seed {failed[0]}")
    for seed in unit.seeds:
        if seed in unit.results:
            result = unit.results[seed]
        elif reason is not None or unit.proc is None:
            why = reason[1] if reason else "the grader stopped before this test could run"
            result = SeedResult(seed, "not_run", f"not run: {why}")
        elif unit.killed_for == "timeout":
            reason = ("timeout", f"the time budget ran out on seed {seed}")
            result = SeedResult(
                seed,
                "timeout",
                f"time limit: seed {seed} did not finish within the test's "
                f"{unit.budget:g} s budget. A handler that loops forever (or never awaits), "
                "or a node that floods the network without pause, does this.",
            )
        elif unit.killed_for == "interrupt":
            reason = ("not_run", "the grader was interrupted")
            result = SeedResult(seed, "not_run", "not run: the grader was interrupted")
        else:
            memory = "MemoryError" in tail or code in (-signal.SIGKILL, 137)
            outcome: Outcome = "memory" if memory else "error"
            what = (
                f"memory limit: the run needed more than {options.memory_mb} MiB"
                if memory
                else f"the grading process {describe_exit(code)}"
            )
            reason = (outcome, what)
            result = SeedResult(
                seed,
                outcome,
                f"{what} on seed {seed}" + (f"; its last output:\n{tail}" if tail else ""),
            )
        if result.outcome != "passed":
            result = replace(
                result, replay=replay_command(options.lab, options.impl, unit.test.name, seed)
            )
        results.append(result)
    return results


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
    """Grade the implementation; returns a complete report, even when interrupted."""
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
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="distlab-grade-") as tmp, _sigterm_as_interrupt():
        units = _plan(options, tests, Path(tmp))
        run_budget = options.run_budget or sum(u.budget for u in units) + 30
        waiting, running, done = list(units), list[_Unit](), list[_Unit]()
        try:  # from here on, an interrupt still yields a report of every test
            while waiting or running:
                over = time.monotonic() - began > run_budget
                while waiting and len(running) < options.parallel and not over:
                    unit = waiting.pop(0)
                    _start(unit, options)
                    running.append(unit)
                if over and not running:
                    break
                for unit in list(running):
                    assert unit.proc is not None
                    if unit.proc.poll() is not None:
                        running.remove(unit)
                        done.append(unit)
                    elif over or time.monotonic() - unit.started_at > unit.budget:
                        _kill(unit, "timeout")
                        running.remove(unit)
                        done.append(unit)
                time.sleep(POLL_INTERVAL)
        except KeyboardInterrupt:
            interrupted = True
            for unit in running:
                _kill(unit, "interrupt")
            done += running
        results = []
        for test in tests:
            mine = [u for u in units if u.test is test]
            seeds = [r for u in mine if u in done for r in _finish(u, options)]
            seeds += [
                SeedResult(
                    s,
                    "not_run",
                    "not run: the grader was interrupted"
                    if interrupted
                    else "not run: the whole run's time budget ran out",
                )
                for u in mine
                if u not in done
                for s in u.seeds
            ]
            planned = sum(len(u.seeds) for u in mine)
            result = _aggregate(
                test, planned, seeds, sum(s.seconds for s in seeds), sum(u.budget for u in mine)
            )
            results.append(result)
            if progress is not None:
                progress(result)
    return _report(options, results, began, interrupted=interrupted)


def _report(
    options: GradeOptions,
    results: list[TestResult],
    began: float,
    *,
    interrupted: bool,
    error: str = "",
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
    )
