"""``distlab check LAB``: everything that must hold before a lab is handed out, in one table.

Why one command: a lab is code (a reference solution, graded tests, mutants, a demo, a handout)
whose parts prove each other. The tests are worth something only if the reference passes every
seed and every mutant fails the test aimed at it; the handout must score 0 without breaking the
grader; the demo must pass for the reference wherever it runs, tell the story of the lab's
mistakes (fail for at least half of its mutants), and replay exactly. Each of those is a row.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from distlab._cluster import Placement
from distlab._errors import DistlabError
from distlab._handout import count_blocks, stub_solution
from distlab._labs import Lab
from distlab._runs import RunRequest, execute

from ._grader import GradeOptions, grade
from ._results import GradeReport

#: where a lab's demo must pass with the reference
PLACEMENTS: tuple[Placement, ...] = ("sim", "inprocess", "processes")
#: the demo must fail for at least this share of the lab's mutants (it tells their story)
DEMO_CATCHES_AT_LEAST = 0.5
DEMO_SEED = 1


@dataclass(frozen=True)
class CheckRow:
    """One thing that must hold, whether it does, and what was seen."""

    check: str
    ok: bool
    detail: str


def check_lab(
    lab: Lab,
    *,
    parallel: int = 2,
    seeds: int | None = None,
    placements: Sequence[Placement] = PLACEMENTS,
    progress: Callable[[CheckRow], None] | None = None,
) -> list[CheckRow]:
    """Every row of ``distlab check``, in order (``seeds``: at most that many per test)."""
    rows = []
    for row in _rows(lab, parallel=parallel, seeds=seeds, placements=placements):
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


def _rows(
    lab: Lab, *, parallel: int, seeds: int | None, placements: Sequence[Placement]
) -> Iterator[CheckRow]:
    with tempfile.TemporaryDirectory(prefix="distlab-check-") as tmp:
        traces = Path(tmp) / "traces"
        options = GradeOptions(lab=lab, parallel=parallel, max_seeds=seeds, trace_dir=traces)
        yield _reference(grade(options), seeds)
        for mutant, target in sorted(lab.mutants.items()):
            yield _mutant(lab, mutant, target, options)
        yield check_handout(lab, Path(tmp))[0]
        for placement in placements:
            outcome = execute(RunRequest(lab.slug, DEMO_SEED, placement, {}))
            yield CheckRow(
                f"the demo passes with the reference ({placement})",
                outcome.passed,
                outcome.summary,
            )
        yield _demo_catches(lab)
        yield _replays(lab)


def _reference(report: GradeReport, seeds: int | None) -> CheckRow:
    ran = sum(len(t.seeds) for t in report.tests)
    failed = [t.name for t in report.tests if not t.passed]
    scope = f"at most {seeds} seeds per test" if seeds else "every test's seeds"
    detail = f"{report.score:g}/{report.max_score:g} on {ran} seeds ({scope})"
    if failed:
        first = next(t for t in report.tests if not t.passed)
        detail += f"; failed: {', '.join(failed)} (first: {first.message.splitlines()[0]})"
    return CheckRow("the reference passes every test on every seed", not failed, detail)


def _mutant(lab: Lab, mutant: Path, target: str, options: GradeOptions) -> CheckRow:
    report = grade(
        GradeOptions(
            lab=lab,
            impl=mutant,
            tests=(target,),
            parallel=options.parallel,
            max_seeds=options.max_seeds,
            trace_dir=options.trace_dir,
            fail_fast=True,
        )
    )
    [test] = report.tests
    failure = test.first_failure
    if test.passed or failure is None:
        detail = f"passed {target} on {len(test.seeds)} seeds: the test does not catch it"
        return CheckRow(f"mutant {mutant.stem} loses {target}", False, detail)
    first = failure.message.splitlines()[0] if failure.message else failure.outcome
    return CheckRow(
        f"mutant {mutant.stem} loses {target}",
        True,
        f"{test.outcome} on seed {failure.seed}: {first}",
    )


def check_handout(lab: Lab, workdir: Path) -> tuple[CheckRow, GradeReport | None]:
    """The student's handout (the solution with its marked blocks stubbed) imports, runs under
    the grader, and every test fails cleanly: 0 points, and no grading error."""
    what = "the handout scores 0 and every test fails cleanly"
    source = lab.solution.read_text(encoding="utf-8")
    if count_blocks(source) == 0:
        return CheckRow(what, False, f"{lab.solution} has no '# SOLUTION: task' blocks"), None
    try:
        handout = stub_solution(source, name=str(lab.solution))
    except DistlabError as exc:
        return CheckRow(what, False, str(exc)), None
    stubbed = workdir / "handout" / lab.solution.name
    stubbed.parent.mkdir(parents=True, exist_ok=True)
    stubbed.write_text(handout, encoding="utf-8")
    try:
        lab.cluster_spec(stubbed)  # it imports, and defines every node class
    except DistlabError as exc:
        return CheckRow(what, False, f"the handout does not load: {exc}"), None
    # fail_fast: each test's one seed fails, and need not be run again to see it fail.
    report = grade(
        GradeOptions(
            lab=lab,
            impl=stubbed,
            seed=1,
            parallel=2,
            trace_dir=workdir / "handout-traces",
            fail_fast=True,
        )
    )
    unclean = [t.name for t in report.tests if t.outcome != "failed"]
    detail = f"{report.score:g}/{report.max_score:g}, {count_blocks(source)} stubbed blocks"
    if report.error:
        detail += f"; the grader could not run it: {report.error}"
    if unclean:
        detail += f"; not a clean failure: {', '.join(unclean)}"
    ok = report.score == 0 and not unclean and not report.error
    return CheckRow(what, ok, detail), report


def _demo_catches(lab: Lab) -> CheckRow:
    caught = []
    for mutant in sorted(lab.mutants):
        outcome = execute(RunRequest(lab.slug, DEMO_SEED, "sim", {}, impl=mutant))
        if not outcome.passed:
            caught.append(mutant.stem)
    total = len(lab.mutants)
    missed = sorted(m.stem for m in lab.mutants if m.stem not in caught)
    ok = total == 0 or len(caught) >= DEMO_CATCHES_AT_LEAST * total
    detail = f"fails for {len(caught)} of {total} mutants (seed {DEMO_SEED}, simulated)"
    if missed:
        detail += f"; passes for: {', '.join(missed)}"
    share = f"{DEMO_CATCHES_AT_LEAST:.0%}"
    return CheckRow(f"the demo fails for at least {share} of the mutants", ok, detail)


def _replays(lab: Lab) -> CheckRow:
    request = RunRequest(lab.slug, DEMO_SEED, "sim", {})
    first, second = execute(request), execute(request)
    calls = sorted(set(first.nondeterminism + second.nondeterminism))
    same = first.digest == second.digest
    detail = f"{first.event_count} events, sha256 {first.digest[:12]}…"
    if not same:
        detail = "two runs of the same seed recorded different traces"
    if calls:
        detail += "; wall-clock or unseeded random calls: " + "; ".join(calls)
    return CheckRow("the demo replays exactly (same seed, same trace)", same and not calls, detail)
