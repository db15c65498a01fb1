"""What isolation costs the grader: labs 1-4 graded with student code in a node host, against
the same seeds with every node in the grader's own process (how grading ran before the host).

Two measures, both in one run on one machine:

- per lab, the simulated tests' first ``--seeds`` seeds, run one after another in this process
  (``GradedTest.run_seed``, as a grading worker runs them), with the node host and without it:
  the ratio of the two CPU times is the price of isolation;
- per lab, ``distlab grade N --parallel 2`` end to end (wall time), as a course runs it.

Run it with ``uv run python -m bench.grading`` (a few minutes); the figures go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import trio

import distlab._cluster as cluster_module
from distlab._inprocess import InProcessDriver
from distlab._labs import find_lab
from distlab.grading._grader import discover

LABS = ("1", "2", "3", "4")
#: `distlab grade N --parallel 2` on 2 idle cores before the node host (from the previous
#: benchmark notes: the goal is at most twice these)
BEFORE_HOST_SECONDS = {"1": 12.0, "2": 12.0, "3": 23.0, "4": 27.0}


@contextmanager
def without_node_host() -> Iterator[None]:
    """Simulated clusters run every node in this process, as before the node host."""
    original = cluster_module._make_driver

    def in_process(
        placement: cluster_module.Placement, cluster: cluster_module.Cluster, nursery: trio.Nursery
    ) -> cluster_module.PlacementDriver:
        if placement == "sim":
            return InProcessDriver(cluster, nursery, simulated=True)
        return original(placement, cluster, nursery)

    cluster_module._make_driver = in_process
    try:
        yield
    finally:
        cluster_module._make_driver = original


def cpu_seconds() -> float:
    """CPU time of this process and of the children it has reaped (the node hosts)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def seeds_cpu(lab_number: str, seeds: int) -> tuple[float, int]:
    """CPU seconds to run the first ``seeds`` seeds of every simulated test; seeds that failed."""
    lab = find_lab(lab_number)
    failed = 0
    began = cpu_seconds()
    for test in discover(lab):
        if test.runtime != "sim":
            continue
        for seed in range(1, min(seeds, test.seeds) + 1):
            failed += test.run_seed(seed, impl=None, lab=lab).outcome != "passed"
    return cpu_seconds() - began, failed


def grade_wall(lab_number: str) -> tuple[float, str]:
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "distlab", "grade", lab_number, "--parallel", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    points = next(
        (line for line in reversed(result.stdout.splitlines()) if line.startswith("Points")), "?"
    )
    return time.perf_counter() - began, points


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__)
    parser.add_argument("--seeds", type=int, default=20, help="seeds per test (default 20)")
    parser.add_argument("--labs", default=",".join(LABS), help="labs to measure (default 1-4)")
    parser.add_argument("--no-grade", action="store_true", help="skip the end-to-end grades")
    args = parser.parse_args(argv)
    labs = [lab.strip() for lab in args.labs.split(",") if lab.strip()]
    print(f"seeds per simulated test: {args.seeds}")
    print(f"{'lab':>3}  {'host CPU s':>10}  {'in-process CPU s':>16}  {'ratio':>5}  failed")
    for lab in labs:
        hosted, failed_hosted = seeds_cpu(lab, args.seeds)
        with without_node_host():
            alone, failed_alone = seeds_cpu(lab, args.seeds)
        print(
            f"{lab:>3}  {hosted:10.2f}  {alone:16.2f}  {hosted / alone:5.2f}  "
            f"{failed_hosted}/{failed_alone}",
            flush=True,
        )
    if args.no_grade:
        return
    print(
        f"\n{'lab':>3}  {'grade --parallel 2':>18}  {'before the host':>15}  {'ratio':>5}  points"
    )
    for lab in labs:
        seconds, points = grade_wall(lab)
        before = BEFORE_HOST_SECONDS[lab]
        print(
            f"{lab:>3}  {seconds:17.1f}s  {before:14.1f}s  {seconds / before:5.2f}  {points}",
            flush=True,
        )


if __name__ == "__main__":
    main()
