"""A grading worker: runs some seeds of one graded test, in a process of its own.

The grader starts ``python -m grading._worker JOB.json``. The worker limits its own memory and
CPU time first, before any student code is imported, then appends one JSON line per event to the
job's results file: ``{"started": seed}`` before a seed, then that seed's result. The file, not a
pipe, carries the results: whatever the student's code prints cannot corrupt it, and every line
written before the worker was killed can still be read.
"""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from distlab import DistlabError

from ._graded import graded_tests
from ._results import SeedResult


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def _write(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()


def run_job(job: dict[str, Any]) -> None:
    impl = Path(job["impl"]) if job.get("impl") else None
    trace_dir = Path(job["trace_dir"])
    trace_dir.mkdir(parents=True, exist_ok=True)
    with Path(job["results"]).open("a", encoding="utf-8") as out:
        try:
            [test] = [t for t in graded_tests(Path(job["test_file"])) if t.name == job["test"]]
            lab = test.lab()
            lab.cluster_spec(impl)  # import the implementation now: one verdict if it fails
        except DistlabError as exc:
            for seed in job["seeds"]:
                _write(out, asdict(SeedResult(seed, "error", str(exc))))
            return
        for seed in job["seeds"]:
            _write(out, {"started": seed})
            result = test.run_seed(seed, impl=impl, trace_dir=trace_dir, lab=lab)
            _write(out, asdict(result))
            if job.get("fail_fast") and result.outcome != "passed":
                return


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    _limit(job["memory_mb"], job["cpu_seconds"])
    run_job(job)


if __name__ == "__main__":
    main()
