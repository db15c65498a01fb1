"""The grader's process hygiene: results the student cannot forge, no process outliving its
grade, a results file written once and atomically, and grades that load and chance cannot
change.

Most tests grade a small fake lab (written to a temporary folder) whose graded tests each do one
thing the grader must handle: hang, be slow once, fail once, leave a process behind.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import distlab.grading as grading
import distlab.grading._grader as grader
from distlab._cli import run_cli
from distlab._labs import Lab, list_labs, load_lab
from distlab.grading import GradeOptions, GradeReport, SeedResult, TestResult, grade
from distlab.grading._grader import RERUN_FLOOR, discover, nondeterminism_message
from distlab.grading._hygiene import (
    PR_GET_CHILD_SUBREAPER,
    PR_GET_DUMPABLE,
    Reaper,
    RecordReader,
    prctl,
    trusted_process,
)
from distlab.grading._reports import render_text, to_gradescope, to_junit
from distlab.grading._worker import hung_message, run_job

ROOT = Path(__file__).resolve().parent.parent
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's /proc, prctl")

FAKE_TESTS = '''
"""A fake lab's graded tests: each does one thing the grader must handle."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from distlab.grading import CheckFailed, LabRun, graded


def state(run: LabRun) -> Path:
    return Path(run.config["state"])


def first_time(run: LabRun, what: str) -> bool:
    """True on the first run of this seed (a marker file remembers it across workers)."""
    marker = state(run) / f"{what}-seed{run.seed}"
    if marker.exists():
        return False
    marker.touch()
    return True


@graded(points=1, seeds=3, budget=30, runtime="live")
async def test_slow_once(run: LabRun) -> None:
    """Seed 2 is slow the first time only, as on a busy machine."""
    if run.seed == 2 and first_time(run, "slow"):
        time.sleep(120)


@graded(points=1, seeds=3, budget=30, runtime="live")
async def test_hangs(run: LabRun) -> None:
    """Seed 2 hangs every time."""
    if run.seed == 2:
        time.sleep(120)


@graded(points=1, seeds=2, budget=30)  # simulated: only those are run again
async def test_flaky(run: LabRun) -> None:
    """Seed 1 fails the first time only."""
    if run.seed == 1 and first_time(run, "flaky"):
        raise CheckFailed("the first run failed")


@graded(points=1, seeds=2, budget=30)
async def test_always_fails(run: LabRun) -> None:
    """Seed 1 fails every time, the same way."""
    if run.seed == 1:
        raise CheckFailed("it always fails")


@graded(points=1, seeds=2, budget=30, runtime="live")
async def test_fails_live(run: LabRun) -> None:
    """Seed 1 fails on real time, every time."""
    if run.seed == 1:
        raise CheckFailed("it failed live")


@graded(points=1, seeds=3, budget=30, runtime="live")
async def test_fails_live_once(run: LabRun) -> None:
    """Seeds 1 and 3 fail on real time the first time only (a busy machine)."""
    if run.seed in (1, 3) and first_time(run, "live"):
        raise CheckFailed("it was late once")


@graded(points=1, seeds=1, budget=30, runtime="live")
async def test_leaves_a_process(run: LabRun) -> None:
    """Starts a process in a session of its own, through a child that exits at once."""
    child = subprocess.run(
        [sys.executable, str(state(run) / "leave.py")], capture_output=True, text=True, check=True
    )
    (state(run) / "left.json").write_text(child.stdout)


@graded(points=1, seeds=1, budget=30, runtime="live")
async def test_probes_its_worker(run: LabRun) -> None:
    """Records its worker seen from inside, and what another process of the user can open."""
    fd = int(sys.argv[sys.argv.index("--results-fd") + 1])
    words = [str(os.getpid()), str(fd), str(os.getppid())]
    probe = subprocess.run(
        [sys.executable, str(state(run) / "probe.py"), *words],
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(probe.stdout)
    seen.update(argv=sys.argv[1:], stdin=os.readlink("/proc/self/fd/0"))
    (state(run) / "probe.json").write_text(json.dumps(seen))
'''

#: The child that leaves a process behind: a grandchild in a new session, which has a child of
#: its own; the child prints both pids and exits without waiting for them.
LEAVE = """
import json, subprocess, sys
script = (
    "import subprocess, time\\n"
    "p = subprocess.Popen(['sleep', '617'])\\n"
    "print(p.pid, flush=True)\\n"
    "time.sleep(618)\\n"
)
grandchild = subprocess.Popen(
    [sys.executable, "-c", script],
    stdin=subprocess.DEVNULL,
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,  # holds none of our pipes open: we need not wait for it
    text=True,
    start_new_session=True,
)
great = int(grandchild.stdout.readline())
print(json.dumps({"grandchild": grandchild.pid, "great": great}))
"""

#: Another process of the same user (the worker's child, exec'd, so dumpable): what can it open?
PROBE = """
import json, os, subprocess, sys

worker, fd, grader = map(int, sys.argv[1:4])


def try_open(path):
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError as exc:
        return type(exc).__name__
    return "opened"


control = subprocess.Popen(["sleep", "30"], stdin=subprocess.PIPE)
print(json.dumps({
    "worker": try_open(f"/proc/{worker}/fd/{fd}"),
    "grader": try_open(f"/proc/{grader}/fd/1"),
    "control": try_open(f"/proc/{control.pid}/fd/0"),
}))
control.kill()
control.wait()
"""


def fake_lab(root: Path) -> Lab:
    """Lab 90, whose tests are FAKE_TESTS; ``run.config["state"]`` is a folder they share."""
    lab_dir, state = root / "90-fake", root / "state"
    (lab_dir / "tests").mkdir(parents=True)
    state.mkdir()
    (lab_dir / "lab.toml").write_text(
        textwrap.dedent(
            f"""
            title = "Fake: a lab for the grader's own tests"
            solution = "solution.py"

            [[nodes]]
            role = "server"
            class = "Server"

            [config]
            state = "{state}"
            """
        )
    )
    (lab_dir / "solution.py").write_text(
        "from distlab import Node\n\n\nclass Server(Node):\n    pass\n"
    )
    (lab_dir / "tests" / "test_fake.py").write_text(FAKE_TESTS)
    (state / "leave.py").write_text(LEAVE)
    (state / "probe.py").write_text(PROBE)
    return load_lab(lab_dir)


def grade_fake(tmp_path: Path, *tests: str, **options: Any) -> GradeReport:
    lab = fake_lab(tmp_path)
    return grade(GradeOptions(lab=lab, tests=tests, trace_dir=tmp_path / "traces", **options))


def by_name(report: GradeReport) -> dict[str, TestResult]:
    return {t.name: t for t in report.tests}


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


# --- the results channel -----------------------------------------------------------------------


def test_the_reader_keeps_complete_records_and_drops_a_torn_last_line() -> None:
    read_fd, write_fd = os.pipe()
    reader = RecordReader(read_fd)
    try:
        assert reader.read() == []  # nothing written yet: it does not block
        os.write(write_fd, b'{"ready": true}\n{"started": 1}\nnot json\n[1, 2]\n{"seed": 1, "out')
        assert reader.read() == [{"ready": True}, {"started": 1}]
        os.write(write_fd, b'come": "passed"}\n{"seed": 2, "outcome": "pa')
        assert reader.read() == [{"seed": 1, "outcome": "passed"}]
        os.close(write_fd)  # killed mid-line: the torn record is never parsed
        write_fd = -1
        assert reader.drain() == []
        assert reader.exhausted
    finally:
        reader.close()
        if write_fd >= 0:
            os.close(write_fd)


#: A fake worker: records what it was given, reports seed 1 through the pipe, tears seed 2's line
#: (as a kill does) and exits 0.
SPY_WORKER = """
import json, os, stat, sys

fd = int(sys.argv[sys.argv.index("--results-fd") + 1])
job = json.loads(sys.stdin.read())


def is_open(n):
    try:
        os.fstat(n)
    except OSError:
        return False
    return True


seen = {
    "argv": sys.argv[1:],
    "job": job,
    "fds": [n for n in range(3, 256) if is_open(n)],
    "pipe": stat.S_ISFIFO(os.fstat(fd).st_mode),
}
with open(os.environ["DISTLAB_TEST_SPY"], "a") as spy:
    spy.write(json.dumps(seen) + "\\n")
out = os.fdopen(fd, "w")
out.write('{"ready": true}\\n{"started": 1}\\n{"seed": 1, "outcome": "passed"}\\n')
out.write('{"started": 2}\\n{"seed": 2, "outcome": "passed"')
out.flush()
"""


def test_a_worker_gets_its_job_on_stdin_and_reports_through_a_pipe_no_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = tmp_path / "spy.jsonl"
    monkeypatch.setenv("DISTLAB_TEST_SPY", str(spy))
    monkeypatch.setattr(grader, "_BOOTSTRAP", SPY_WORKER)
    report = grade_fake(tmp_path, "test_slow_once", seeds=2)
    [seen] = [json.loads(line) for line in spy.read_text().splitlines()]  # one worker, no rerun
    fd = int(seen["argv"][1])
    assert seen["argv"] == ["--results-fd", str(fd)]  # no path on its command line
    assert seen["pipe"] and seen["fds"] == [fd]  # the pipe, and nothing else, was inherited
    job = seen["job"]
    assert "results" not in job
    assert not any("distlab-grade-" in str(value) for value in job.values())  # the grader's dir
    assert job["seeds"] == [1, 2] and job["test"] == "test_slow_once"
    [test] = report.tests
    first, second = test.seeds
    assert first.outcome == "passed"  # it came through the pipe
    assert second.outcome == "error"  # its line was torn: no verdict, and never a pass
    assert second.message.startswith(
        "the grading worker (distlab's own process) exited with code 0 before reporting seed 2"
    )
    assert "not a verdict on your code" in second.message
    assert test.outcome == "error" and test.score == 0


def test_a_worker_that_never_gets_ready_is_a_tool_error_not_a_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grader, "_BOOTSTRAP", "import time\ntime.sleep(120)\n")
    monkeypatch.setattr(grader, "STARTUP_ALLOWANCE", 0.5)
    report = grade_fake(tmp_path, "test_slow_once", seeds=2)
    [test] = report.tests
    first, second = test.seeds
    assert first.outcome == "error"
    assert "was not ready after 0.5 s, so seed 1 never ran" in first.message
    assert "says nothing about your code" in first.message
    assert second.outcome == "not_run"
    assert second.message == "not run: the grading worker did not start"


def unprivileged() -> None:
    """Before exec, in the child: give up every capability for good (bounding set included).

    Root with CAP_SYS_PTRACE may open any process's /proc/PID/fd (that is not defended); a
    user's own processes hold no capabilities. Run as root, the grader's test is run as such a
    user would run it: uid 0 still, but without any capability, in every descendant.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP; fails harmlessly past the last one

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]

    data = (Data * 2)()
    if libc.capset(ctypes.byref(Header(0x20080522, 0)), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


GRADE_SCRIPT = """
import json, sys
from pathlib import Path
from distlab._labs import load_lab
from distlab.grading import GradeOptions, grade

lab = load_lab(Path(sys.argv[1]))
report = grade(GradeOptions(lab=lab, tests=(sys.argv[2],), trace_dir=Path(sys.argv[3])))
print(json.dumps(report.to_dict()))
"""


@linux_only
def test_no_other_process_of_the_user_can_open_the_results_pipe(tmp_path: Path) -> None:
    lab = fake_lab(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", GRADE_SCRIPT, str(lab.path), "test_probes_its_worker", "traces"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        preexec_fn=unprivileged if os.geteuid() == 0 else None,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["score"] == 1, report
    seen = json.loads((tmp_path / "state" / "probe.json").read_text())
    assert seen["control"] == "opened"  # a dumpable process of the user: its pipes can be opened
    assert seen["worker"] == "PermissionError"  # the worker's results pipe cannot
    assert seen["grader"] == "PermissionError"  # nor the grader's descriptors
    fd = seen["argv"][1]
    assert seen["argv"] == ["--results-fd", fd]
    assert seen["stdin"] == "/dev/null"  # the job was read, then stdin closed


# --- every process dies with its grade ---------------------------------------------------------


def leave_a_process(cwd: Path) -> dict[str, int]:
    (cwd / "leave.py").write_text(LEAVE)
    child = subprocess.run(
        [sys.executable, str(cwd / "leave.py")], capture_output=True, text=True, check=True
    )
    pids: dict[str, int] = json.loads(child.stdout)
    return pids


@linux_only
def test_the_reaper_kills_what_detached_itself_and_spares_older_children(tmp_path: Path) -> None:
    older = subprocess.Popen(["sleep", "619"])  # pytest's own child, from before grading
    dumpable, subreaper = prctl(PR_GET_DUMPABLE), ctypes.c_int(0)
    prctl(PR_GET_CHILD_SUBREAPER, ctypes.addressof(subreaper))
    try:
        with trusted_process() as reaper:
            assert prctl(PR_GET_DUMPABLE) == 0
            pids = leave_a_process(tmp_path)
            # The child is gone; its detached grandchild was reparented here, the subreaper.
            stat = Path(f"/proc/{pids['grandchild']}/stat").read_text()
            assert int(stat[stat.rfind(")") + 2 :].split()[1]) == os.getpid()
            reaper.sweep()
            assert gone(pids["grandchild"]) and gone(pids["great"])  # killed and reaped
            assert f"pid {pids['great']} `sleep 617`" in reaper.leftovers
            assert any(p.startswith(f"pid {pids['grandchild']} `") for p in reaper.leftovers)
            assert len(reaper.leftovers) == 2
            assert older.poll() is None  # spared
        assert prctl(PR_GET_DUMPABLE) == dumpable  # both undone after grading
        after = ctypes.c_int(0)
        prctl(PR_GET_CHILD_SUBREAPER, ctypes.addressof(after))
        assert after.value == subreaper.value
    finally:
        older.kill()
        older.wait()


@linux_only
def test_a_process_left_running_is_killed_before_the_report_and_listed(tmp_path: Path) -> None:
    report = grade_fake(tmp_path, "test_leaves_a_process")
    pids = json.loads((tmp_path / "state" / "left.json").read_text())
    assert gone(pids["grandchild"]) and gone(pids["great"])  # dead before grade() returned
    assert f"pid {pids['great']} `sleep 617`" in report.leftovers
    assert any(p.startswith(f"pid {pids['grandchild']} `") for p in report.leftovers)
    [test] = report.tests
    assert test.passed and report.full_marks  # the verdicts were decided without them
    line = f"killed a process your code left running: pid {pids['great']} `sleep 617`"
    text = render_text(report)
    assert line in text.splitlines()
    assert text.strip().splitlines()[-1] == "Points 1/1"
    assert report.to_dict()["leftovers"] == report.leftovers
    assert line in to_gradescope(report)["output"]
    assert f"pid {pids['great']}" in to_junit(report)


# --- the results file --------------------------------------------------------------------------


def canned_report() -> GradeReport:
    test = TestResult("t", "", 1, "visible", 10.0, 1, [SeedResult(1, "passed")], "passed")
    return GradeReport("00-ping", "x.py", [test], 1.0, {}, leftovers=["pid 1 `sleep 1`"])


def test_the_results_file_is_written_after_grading_by_one_atomic_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "results.json"
    replaced: list[tuple[Path, Path, str]] = []
    real_replace = os.replace

    def spy_replace(src: Any, dst: Any) -> None:
        replaced.append((Path(src), Path(dst), Path(src).read_text()))
        real_replace(src, dst)

    def fake_grade(options: GradeOptions, **kwargs: Any) -> GradeReport:
        assert not out.exists()  # nothing is written while grading
        return canned_report()

    monkeypatch.setattr(os, "replace", spy_replace)
    monkeypatch.setattr(grading, "grade", fake_grade)
    assert run_cli(["grade", "0", "--format", "json", "--output", str(out)]) == 0
    [(temporary, destination, text)] = replaced
    assert destination == out and temporary.parent == out.parent and temporary != out
    assert out.read_text() == text  # the whole file appeared at once
    assert json.loads(text)["leftovers"] == ["pid 1 `sleep 1`"]
    assert list(tmp_path.iterdir()) == [out]


def test_a_results_file_is_written_even_when_the_grader_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "results.json"

    def broken_grade(options: GradeOptions, **kwargs: Any) -> GradeReport:
        raise RuntimeError("boom")

    monkeypatch.setattr(grading, "grade", broken_grade)
    with pytest.raises(RuntimeError, match="boom"):  # the traceback is not swallowed
        run_cli(["grade", "0", "--format", "gradescope", "--output", str(out)])
    data = json.loads(out.read_text())
    assert data["score"] == 0
    assert "the grader itself failed (a bug in distlab): RuntimeError: boom" in data["output"]


# --- load does not change a grade --------------------------------------------------------------


def test_a_seed_stopped_by_its_budget_fails_only_if_a_rerun_alone_overruns_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grader, "RERUN_FLOOR", 3.0)
    report = grade_fake(tmp_path, "test_slow_once", "test_hangs", time_limit=1.0, parallel=2)
    slow, hangs = by_name(report)["test_slow_once"], by_name(report)["test_hangs"]
    # Slow once (a busy machine): stopped, run again alone, passed; the seed after it ran too.
    assert slow.passed and [s.outcome for s in slow.seeds] == ["passed"] * 3
    assert "seed 2 was stopped once by the 1 s time budget, then run again alone with 3 s" in (
        slow.seeds[1].message
    )
    assert slow.seeds[1].message.startswith("passed when run again")
    # Slow every time: a time limit, confirmed; the seeds after it do not run.
    assert hangs.outcome == "timeout" and hangs.score == 0
    assert [s.outcome for s in hangs.seeds] == ["passed", "timeout", "not_run"]
    assert "did not finish within the test's 1 s budget, nor in 3 s when run again alone" in (
        hangs.seeds[1].message
    )
    assert hangs.seeds[2].message == hung_message(2)


def test_a_one_seed_run_gets_at_least_the_floor() -> None:
    lab = next(lab for lab in list_labs() if lab.number == 0)
    tests = discover(lab)
    runs, units = grader._plan(GradeOptions(lab=lab, seed=7), tests)
    for run, unit in zip(runs, units, strict=True):
        assert unit.seeds == [7]
        assert unit.budget == max(run.test.budget / run.test.seeds, RERUN_FLOOR)
    _, units = grader._plan(GradeOptions(lab=lab, seed=7, time_limit=2), tests)
    assert {u.budget for u in units} == {2}  # an explicit limit is the user's own


class _HangingTest:
    """A graded test for run_job: seed 2 hangs; it must never need the implementation loaded."""

    name = "test_x"

    def lab(self) -> object:
        return object()  # no cluster_spec: the worker must not import the implementation

    def run_seed(self, seed: int, **kwargs: Any) -> SeedResult:
        return SeedResult(seed, "timeout" if seed == 2 else "passed", digest=f"d{seed}")


def test_the_worker_stops_a_test_after_a_seed_that_hung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("distlab.grading._worker.graded_tests", lambda path: [_HangingTest()])
    out = io.StringIO()
    job = {"test_file": "x.py", "test": "test_x", "impl": None, "trace_dir": str(tmp_path)}
    run_job({**job, "seeds": [1, 2, 3, 4]}, out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[:4] == [{"ready": True}, {"started": 1}, records[2], {"started": 2}]
    assert [(r["seed"], r["outcome"]) for r in records[2::2][:2]] == [(1, "passed"), (2, "timeout")]
    assert records[5:] == [
        {**records[5], "seed": 3, "outcome": "not_run", "message": hung_message(2)},
        {**records[6], "seed": 4, "outcome": "not_run", "message": hung_message(2)},
    ]
    assert hung_message(2) == "not run: seed 2 hung; the test has failed already"


# --- nondeterminism ----------------------------------------------------------------------------


def test_a_failing_seed_that_runs_differently_again_is_called_nondeterministic(
    tmp_path: Path,
) -> None:
    report = grade_fake(tmp_path, "test_flaky", "test_always_fails", parallel=2)
    flaky, always = by_name(report)["test_flaky"], by_name(report)["test_always_fails"]
    assert flaky.outcome == "failed" and flaky.score == 0  # the verdict stays a failure
    assert flaky.message.startswith(
        "your code is nondeterministic: seed 1 gave different runs (it failed, then passed when "
        "run again)."
    )
    assert "No wall-clock or unseeded-random call was recorded" in flaky.message
    assert "distlab run 90 --sim --seed 1 --check-determinism" in flaky.message
    assert flaky.message.endswith("The first run: the first run failed")
    assert "your code is nondeterministic" in render_text(report)
    # Failing the same way twice is a plain failure.
    assert always.outcome == "failed" and always.message == "it always fails"


def test_the_calls_of_both_runs_are_listed_and_a_differing_trace_counts(tmp_path: Path) -> None:
    lab = fake_lab(tmp_path)
    tests = [t for t in discover(lab) if t.name == "test_always_fails"]
    options = GradeOptions(lab=lab, impl=Path("mine.py"))
    grading_run = grader._Grading(options, tests, tmp_path, Reaper())
    [run] = grading_run.runs
    clock = "node server called time.time() at /x/mine.py:12: use self.now() / self.sleep()"
    chance = "node server called random.random() at /x/mine.py:20: use self.random"
    first = SeedResult(1, "failed", "no pong", digest="aaa", nondeterminism=[clock])
    run.results[1] = first
    again = SeedResult(1, "failed", "no pong", digest="bbb", nondeterminism=[chance, clock])
    grading_run._settle_recheck(grader._Unit(run, [1], 10.0, "recheck", results={1: again}))
    message = run.results[1].message
    assert message.startswith(
        "your code is nondeterministic: seed 1 gave different runs (both runs failed, but their "
        "traces differ)."
    )
    assert f"- {clock}\n- {chance}\n" in message  # the union of both runs, once each
    assert run.results[1].nondeterminism == [clock, chance]
    # The same digest and outcome: deterministic, the message is left alone.
    run.results[1] = first
    same = SeedResult(1, "failed", "no pong", digest="aaa")
    grading_run._settle_recheck(grader._Unit(run, [1], 10.0, "recheck", results={1: same}))
    assert run.results[1].message == "no pong"
    words = nondeterminism_message(lab, Path("mine.py"), first, SeedResult(1, "passed"), [])
    assert "distlab run 90 --sim --seed 1 --check-determinism --impl mine.py" in words


def test_nondeterministic_calls_are_a_warning_at_the_end_even_when_all_passed() -> None:
    clock = "node client-1 called time.time() at /x/sol.py:12: use self.now() / self.sleep()"
    seeds = [SeedResult(s, "passed", nondeterminism=[clock]) for s in (1, 2)]
    test = TestResult("t", "", 2, "visible", 10.0, 2, seeds, "passed")
    report = GradeReport("00-ping", "sol.py", [test], 1.0, {})
    assert report.full_marks and report.warnings == [clock]
    lines = render_text(report).strip().splitlines()
    assert lines[-1] == "Points 2/2"  # still the last line, as graders read it
    warning = lines.index(f"  - {clock}")  # once, though two seeds recorded it
    assert lines[warning - 1].startswith("WARNING your code takes time or chance")
    assert lines.count(f"  - {clock}") == 1
    assert report.to_dict()["warnings"] == [clock]
    assert clock in to_gradescope(report)["output"]
    assert to_gradescope(report)["extra_data"]["warnings"] == [clock]


def test_a_real_submission_that_reads_the_clock_passes_with_a_warning(tmp_path: Path) -> None:
    lab = next(lab for lab in list_labs() if lab.number == 0)
    impl = Path(__file__).resolve().parent / "impls" / "reads_the_clock.py"
    report = grade(
        GradeOptions(
            lab=lab, impl=impl, tests=("test_all_pongs_arrive",), seeds=2, trace_dir=tmp_path
        )
    )
    assert report.full_marks  # a warning costs no points
    assert any("called time.time() at" in w and "reads_the_clock.py:" in w for w in report.warnings)
    lines = render_text(report).strip().splitlines()
    assert any(line.startswith("WARNING your code takes time or chance") for line in lines)
    assert lines[-1] == "Points 2/2"
    assert len(report.warnings) == len(set(report.warnings))  # once each, across seeds


def test_a_live_failure_costs_points_only_if_it_fails_again_alone(tmp_path: Path) -> None:
    report = grade_fake(tmp_path, "test_fails_live", "test_fails_live_once", parallel=2)
    always, once = by_name(report)["test_fails_live"], by_name(report)["test_fails_live_once"]
    assert always.outcome == "failed" and always.score == 0
    assert always.message == "it failed live\n(it failed again when run alone)"
    assert "nondeterministic" not in always.message  # live runs are never compared
    assert once.outcome == "passed" and once.score == once.points
    assert [s.message for s in once.seeds if s.message] == [
        "passed when run again alone, on real time (the first run failed: it was late once)"
    ] * 2
