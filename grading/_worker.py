"""A grading worker: runs some seeds of one graded test, in a process of its own.

The grader starts it with ``python -c BOOTSTRAP --results-fd N`` (see ``_grader._start``): the
bootstrap makes the process unreadable to the user's other processes (``PR_SET_DUMPABLE`` 0, so
no same-user process can open ``/proc/PID/fd/N``) before anything else is imported, then runs
this module. The job (test file, test, seeds, limits) arrives as JSON on stdin, which is then
closed; the worker limits its own memory and CPU time and writes one JSON line per event to the
inherited pipe ``N``, whose other end only the grader holds:

- ``{"ready": true}`` once it has loaded the test and before its first seed (the grader starts
  the test's time budget then: interpreter start-up never counts against it);
- ``{"started": seed}`` before each seed, then that seed's ``SeedResult``.

No file carries the results, so there is no path a student's process could name to append a
forged line to. Whatever the worker (or anything in it) prints goes to its output file, which
the grader reads only for the tail it shows when the worker dies. The pipe is not inherited by
anything the worker executes.

The student's implementation is never imported here: ``GradedTest.run_seed`` runs it (in a node
host process of its own) and turns an implementation that does not load into an ``error``
verdict for that seed.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from distlab import DistlabError
from distlab._forkserver import stop_fork_server

from ._graded import graded_tests
from ._hygiene import forbid_inspection
from ._results import SeedResult


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def _write(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()


def hung_message(seed: int) -> str:
    """Why the seeds after one that hung are not run (the worker and the grader say the same)."""
    return f"not run: seed {seed} hung; the test has failed already"


def run_job(job: dict[str, Any], out: IO[str]) -> None:
    """Run the job's seeds, writing a record per event to ``out`` (see the module's doc)."""
    impl = Path(job["impl"]) if job.get("impl") else None
    trace_dir = Path(job["trace_dir"])
    trace_dir.mkdir(parents=True, exist_ok=True)
    seeds: list[int] = list(job["seeds"])
    try:
        [test] = [t for t in graded_tests(Path(job["test_file"])) if t.name == job["test"]]
        lab = test.lab()
    except DistlabError as exc:  # the lab's own test file: a verdict per seed, in its words
        _write(out, {"ready": True})
        for seed in seeds:
            _write(out, asdict(SeedResult(seed, "error", str(exc))))
        return
    _write(out, {"ready": True})
    for i, seed in enumerate(seeds):
        _write(out, {"started": seed})
        result = test.run_seed(seed, impl=impl, trace_dir=trace_dir, lab=lab)
        _write(out, asdict(result))
        if result.outcome == "timeout":  # a hang costs seconds each time: the test failed anyway
            for later in seeds[i + 1 :]:
                _write(out, asdict(SeedResult(later, "not_run", hung_message(seed))))
            return
        if job.get("fail_fast") and result.outcome != "passed":
            return


def _results_fd(argv: Sequence[str]) -> int:
    words = list(argv)
    try:
        return int(words[words.index("--results-fd") + 1])
    except (ValueError, IndexError):
        raise SystemExit(
            "usage: python -m distlab.grading._worker --results-fd N < job.json"
        ) from None


def main(argv: Sequence[str] | None = None) -> None:
    forbid_inspection()  # again: the grader's bootstrap did it already, unless run by hand
    fd = _results_fd(sys.argv[1:] if argv is None else argv)
    os.set_inheritable(fd, False)  # nothing this worker executes gets the results pipe
    job = json.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    _limit(job["memory_mb"], job["cpu_seconds"])
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            run_job(job, out)
    finally:
        stop_fork_server()  # distlab's own, not a process the student's code left running


if __name__ == "__main__":
    main()
