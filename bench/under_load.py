"""Does machine load change a grade? Labs graded on an idle machine and beside CPU hogs.

Two checks, as issue 11 asks of the grader:

- the reference solution of each lab, graded ``--repeat`` times in a row with ``--hogs`` busy
  loops running alongside (``python -c 'while True: pass'``), gets full marks every time;
- every shipped mutant gets the same points per test on the idle machine and beside the hogs
  (graded with ``--mutant-seeds`` seeds per test, enough for each mutant to fail its test).

Run it with ``uv run python -m bench.under_load`` (about an hour on 2 cores; ``--labs 1`` and
``--repeat 1`` for a shorter look). It prints a line per grade and exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from distlab._labs import find_lab
from distlab.grading._grader import discover

LABS = ("0", "1", "2", "3", "4")


@contextmanager
def hogs(count: int) -> Iterator[None]:
    """``count`` processes that burn CPU until the block ends."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for process in busy:
            process.kill()
            process.wait()


def grade(lab: str, *, impl: Path | None = None, seeds: int | None = None) -> dict[str, float]:
    """Points per test of one ``distlab grade LAB --parallel 2``, from its JSON results."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "results.json"
        command = [sys.executable, "-m", "distlab", "grade", lab, "--parallel", "2"]
        command += ["--format", "json", "--output", str(output), "--traces", scratch]
        if impl is not None:
            command += ["--impl", str(impl)]
        if seeds is not None:
            command += ["--seeds", str(seeds)]
        subprocess.run(command, capture_output=True, check=False)
        results = json.loads(output.read_text())
    return {test["name"]: float(test["score"]) for test in results["tests"]}


def full_marks(lab: str) -> float:
    return sum((test.points for test in discover(find_lab(lab))), 0.0)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.under_load", description=__doc__)
    parser.add_argument("--labs", default=",".join(LABS), help="labs to grade (default 0-4)")
    parser.add_argument("--hogs", type=int, default=2, help="busy loops alongside (default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="reference grades per lab (5)")
    parser.add_argument("--mutant-seeds", type=int, default=10, help="seeds per test (10)")
    parser.add_argument("--no-mutants", action="store_true", help="grade the references only")
    args = parser.parse_args(argv)
    labs = [lab.strip() for lab in args.labs.split(",") if lab.strip()]
    failures: list[str] = []

    for lab in labs:
        total = full_marks(lab)
        for attempt in range(1, args.repeat + 1):
            began = time.perf_counter()
            with hogs(args.hogs):
                points = grade(lab)
            got = sum(points.values())
            lost = {name: p for name, p in points.items() if p == 0}
            print(
                f"lab {lab} reference, grade {attempt}/{args.repeat} beside {args.hogs} hogs: "
                f"{got:g}/{total:g} in {time.perf_counter() - began:.1f} s"
                + (f" (lost: {', '.join(lost)})" if got != total else ""),
                flush=True,
            )
            if got != total:
                failures.append(f"lab {lab}: the reference got {got:g}/{total:g} beside the hogs")

    if not args.no_mutants:
        for lab in labs:
            found = find_lab(lab)
            for path, aimed_at in sorted(found.mutants.items()):
                mutant = path.stem
                idle = grade(lab, impl=path, seeds=args.mutant_seeds)
                with hogs(args.hogs):
                    loaded = grade(lab, impl=path, seeds=args.mutant_seeds)
                same = idle == loaded
                print(
                    f"lab {lab} mutant {mutant}: idle {sum(idle.values())}, beside the hogs "
                    f"{sum(loaded.values())}, {aimed_at}: {idle.get(aimed_at)} / "
                    f"{loaded.get(aimed_at)}" + ("" if same else "  DIFFERENT"),
                    flush=True,
                )
                if not same:
                    changed = sorted(n for n in idle if idle[n] != loaded.get(n))
                    failures.append(f"lab {lab} mutant {mutant}: points changed on {changed}")

    print("\n" + ("\n".join(failures) if failures else "every check held"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
