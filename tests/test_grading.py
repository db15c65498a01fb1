"""The grader, graded: full marks for the reference, lost points for every mutant, and a clear
verdict (and a results file) for implementations that hang, crash, flood or hog memory."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from run_cli import distlab as run_distlab

from distlab import read_trace
from distlab._labs import Lab, find_lab, list_labs
from distlab.grading import GradeOptions, grade
from distlab.grading._grader import discover
from distlab.grading._lab_check import check_lab
from distlab.grading._reports import failure_lines, seeds_summary

ROOT = Path(__file__).resolve().parent.parent
IMPLS = Path(__file__).resolve().parent / "impls"
LABS = list_labs()


#: seeds per test on which the project's suite grades each lab's reference solution
REFERENCE_SEEDS = 50


def lab_zero() -> Lab:
    return next(lab for lab in LABS if lab.number == 0)


@pytest.mark.lab_check
@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_distlab_check_holds_for_every_lab(lab: Lab) -> None:
    """What ``distlab check`` proves, for every lab: the reference passes every test (at most
    REFERENCE_SEEDS seeds each: a full grade of every lab costs more than the suite's budget;
    bench.grading runs it), every mutant loses the test aimed at it, the handout scores 0
    cleanly, the demo passes (simulated; test_cli runs it live) and fails for at least half of
    the mutants, and replays exactly."""
    rows = check_lab(lab, seeds=REFERENCE_SEEDS, placements=("sim",))
    failed = [f"{row.check}: {row.detail}" for row in rows if not row.ok]
    assert failed == []
    assert sum(row.check.startswith("mutant ") for row in rows) == len(lab.mutants)


def test_a_mutants_failure_names_the_seed_the_trace_and_the_replay(tmp_path: Path) -> None:
    lab = lab_zero()
    mutant = lab.path / "mutants" / "gives_up.py"
    target = lab.mutants[mutant]
    report = grade(
        GradeOptions(
            lab=lab, impl=mutant, tests=(target,), parallel=2, trace_dir=tmp_path, fail_fast=True
        )
    )
    [aimed] = report.tests
    assert aimed.outcome == "failed", f"{mutant.name} passed {target}"
    assert aimed.score == 0 and report.score < report.max_score
    failure = aimed.first_failure
    assert failure is not None and failure.message
    assert failure.replay == (
        f"distlab grade {lab.number} --test {target} --seed {failure.seed} --impl {mutant}"
    )
    assert failure.trace is not None and Path(failure.trace).is_file()
    last = list(read_trace(Path(failure.trace)))[-1]  # the trace ends with the verdict
    assert last.kind == "check_failed" and last["test"] == target


def test_every_lab_has_at_least_two_mutants() -> None:
    for lab in LABS:
        assert len(lab.mutants) >= 2, f"{lab.slug} has {len(lab.mutants)} mutants"


@pytest.mark.parametrize(
    ("impl", "outcome", "message"),
    [
        # The node host catches a hang and a flood itself, in words naming the node and line
        # (a hang the host misses is stopped by the grader's budget: test_grader_isolation.py).
        ("loops_forever", "timeout", "s of CPU without waiting"),
        ("floods", "error", "messages without waiting (a flood)"),
        ("raises_on_import", "error", "raises_on_import.py failed to import: line 6: KeyError"),
        ("hogs_memory", "memory", "memory limit: node server ran out of memory"),
    ],
)
def test_misbehaving_implementations_get_a_clear_verdict_in_time(
    impl: str, outcome: str, message: str, tmp_path: Path
) -> None:
    report = grade(
        GradeOptions(
            lab=lab_zero(),
            impl=IMPLS / f"{impl}.py",
            tests=("test_all_pongs_arrive",),
            seeds=2,
            time_limit=3,
            memory_mb=500,
            trace_dir=tmp_path,
        )
    )
    [test] = report.tests
    assert test.outcome == outcome
    assert message in test.message
    assert test.score == 0
    assert report.seconds < 15  # the budget held: nobody waited for the loop to end


distlab = partial(run_distlab, columns=160)


def test_distlab_grade_zero_prints_full_marks_last(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = distlab(
        "grade", "0", "--format", "json", "--output", str(out), "--traces", str(tmp_path / "traces")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "Points 13/13"
    data = json.loads(out.read_text())
    assert data["score"] == data["max_score"] == 13


def test_a_failing_grade_names_the_check_the_seed_the_trace_and_the_replay(
    tmp_path: Path,
) -> None:
    mutant = ROOT / "labs/00-ping/mutants/forgets_progress.py"
    result = distlab("grade", "0", "--impl", str(mutant), "--traces", str(tmp_path))
    assert result.returncode == 1
    text = " ".join(result.stdout.split())
    assert "test_progress_survives_a_client_crash" in text
    assert "it forgot its progress" in text
    assert (
        f"distlab grade 0 --test test_progress_survives_a_client_crash --seed 1 "
        f"--impl {mutant}" in text
    )
    assert result.stdout.strip().splitlines()[-1] == "Points 10/13"
    # The replay command runs exactly that seed of that test again, and fails the same way.
    replay = distlab(
        "grade",
        "0",
        "--test",
        "test_progress_survives_a_client_crash",
        "--seed",
        "1",
        "--impl",
        str(mutant),
        "--traces",
        str(tmp_path),
    )
    assert replay.returncode == 1
    assert "it forgot its progress" in " ".join(replay.stdout.split())
    assert replay.stdout.strip().splitlines()[-1] == "Points 0/3"


def test_results_are_written_when_the_implementation_cannot_load(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = distlab(
        "grade",
        "0",
        "--impl",
        str(IMPLS / "raises_on_import.py"),
        "--format",
        "gradescope",
        "--output",
        str(out),
        "--traces",
        str(tmp_path / "traces"),
    )
    assert result.returncode == 1
    data = json.loads(out.read_text())
    assert data["score"] == 0
    assert all("failed to import" in t["output"] for t in data["tests"])


def test_a_grade_keeps_the_traces_of_the_first_failing_seeds_and_none_of_the_last_grade(
    tmp_path: Path,
) -> None:
    lab = find_lab("0")
    stale = tmp_path / "test_lost_pings_are_retried-seed99.jsonl"
    stale.write_text("{}\n")  # an earlier grade's trace of the same test
    other = tmp_path / "notes.txt"
    other.write_text("mine")
    options = GradeOptions(
        lab=lab,
        impl=lab.path / "mutants" / "gives_up.py",
        tests=("test_lost_pings_are_retried",),
        seeds=12,
        parallel=2,
        trace_dir=tmp_path,
    )
    [test] = grade(options).tests
    failing = [s.seed for s in test.seeds if s.outcome == "failed"]
    assert len(failing) > 3
    assert [s.seed for s in test.seeds if s.trace] == failing[:3]
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == sorted(
        f"test_lost_pings_are_retried-seed{seed}.jsonl" for seed in failing[:3]
    )
    assert other.read_text() == "mine"  # only traces of the tests it grades are replaced
    assert "traces kept: seeds" in "\n".join(failure_lines(grade(options)))


def test_results_are_written_when_the_grader_is_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distlab",
            "grade",
            "0",
            "--impl",
            str(IMPLS / "floods.py"),
            "--time-limit",
            "60",
            "--format",
            "json",
            "--output",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        # A shell's background job ignores SIGINT, and so would the grader it starts: as from
        # a terminal, let Ctrl-C through.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("distlab grade 00-ping")  # grading has begun
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 130
    data = json.loads(out.read_text())
    assert data["interrupted"] is True
    assert data["score"] == 0
    assert {t["outcome"] for t in data["tests"]} <= {"not_run"}  # none passed, none lost


def test_unknown_tests_and_bad_options_are_clear_errors(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = distlab(
        "grade", "0", "--test", "test_nope", "--format", "gradescope", "--output", str(out)
    )
    assert result.returncode == 2
    assert "no graded test named test_nope in lab 00-ping" in result.stderr
    data = json.loads(out.read_text())  # even then, CI gets a results file saying why
    assert data["score"] == 0
    assert "no graded test named test_nope" in data["output"]
    assert distlab("grade", "0", "--seeds", "0").returncode == 2


def test_fail_fast_stops_a_test_at_its_first_failing_seed(tmp_path: Path) -> None:
    lab = lab_zero()
    mutant, target = next((m, t) for m, t in lab.mutants.items() if m.stem == "gives_up")
    report = grade(
        GradeOptions(lab=lab, impl=mutant, tests=(target,), trace_dir=tmp_path, fail_fast=True)
    )
    [test] = report.tests
    outcomes = [s.outcome for s in test.seeds]
    first = outcomes.index("failed")
    assert set(outcomes[:first]) <= {"passed"}
    assert outcomes[first + 1 :] == ["not_run"] * (len(outcomes) - first - 1)
    assert len(outcomes) == test.seeds_planned > first + 1
    assert test.outcome == "failed" and test.score == 0
    assert f"--fail-fast stopped this test at seed {test.seeds[first].seed}" in (
        test.seeds[-1].message
    )
    not_run = len(outcomes) - first - 1
    seed = test.seeds[first].seed
    assert f"  seed: {seed} (1 of {first + 1} seeds run failed, {not_run} not run)" in (
        failure_lines(report)
    )
    assert seeds_summary(test).startswith(f"{first}/{first + 1} (")
    assert seeds_summary(test).endswith(f"), {len(outcomes) - first - 1} not run")


def test_distlab_check_prints_a_table_and_exits_zero_only_when_every_row_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = distlab("check", "0", "--seeds", "3")
    assert ready.returncode == 0, ready.stdout + ready.stderr
    out = " ".join(ready.stdout.split())
    assert "ok the reference passes every test on every seed" in out
    assert "ok mutant gives_up loses test_lost_pings_are_retried" in out
    assert "PASS all 12 checks hold: the lab is ready" in out

    broken = tmp_path / "07-broken"
    broken.mkdir()
    (broken / "lab.toml").write_text('title = "unfinished\n')
    monkeypatch.setenv("DISTLAB_LABS", str(tmp_path))
    refused = distlab("check", "7")
    assert refused.returncode == 1
    out = " ".join(refused.stdout.split())
    assert "FAIL lab.toml loads" in out and "not valid TOML" in out


def test_distlab_new_scaffolds_a_lab_that_passes_distlab_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISTLAB_LABS", str(tmp_path))
    made = distlab("new", "register", "--title", "A register that survives")
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "00-register"
    assert "distlab check 0" in made.stdout
    for part in ("README.md", "lab.toml", "solution.py", "client.py", "demo.py"):
        assert (folder / part).is_file(), part
    readme = (folder / "README.md").read_text()
    for section in ("## The story", "## What you learn", "## The cluster", "## Run it"):
        assert section in readme
    assert "## What the tests check" in readme
    checked = distlab("check", "0", "--seeds", "5")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    again = distlab("new", "register")
    assert again.returncode == 2 and "already has a lab named register" in again.stderr
    bad = distlab("new", "Read Replicas")
    assert bad.returncode == 2 and "use lowercase words joined by '-'" in bad.stderr


def test_seeds_asks_live_tests_for_no_more_than_their_own() -> None:
    from distlab.grading._grader import _plan

    lab = find_lab("1")
    tests = [
        t for t in discover(lab) if t.name in ("test_on_real_sockets", "test_the_sum_is_exact")
    ]
    runs, _ = _plan(GradeOptions(lab=lab, seeds=8), tests)
    planned = {run.test.name: len(run.planned) for run in runs}
    assert planned == {"test_on_real_sockets": 3, "test_the_sum_is_exact": 8}
