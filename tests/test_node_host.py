"""The node host: student code runs apart from the verdict, and whatever it does is told in words.

Each test grades one seed of lab 0 with a submission from tests/impls through the grader's own
path (``GradedTest.run_seed``), as a grading worker does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio
from run_cli import distlab

from distlab import open_cluster, run_simulated
from distlab._labs import find_lab
from distlab.grading import _graded
from distlab.grading._grader import discover
from distlab.grading._results import SeedResult

IMPLS = Path(__file__).resolve().parent / "impls"
LAB0 = find_lab("0")
TESTS = {test.name: test for test in discover(LAB0)}


def grade_one(impl: str, test: str = "test_all_pongs_arrive", seed: int = 1) -> SeedResult:
    return TESTS[test].run_seed(seed, impl=IMPLS / impl, lab=LAB0)


def test_a_handler_that_never_awaits_is_stopped_and_named() -> None:
    result = grade_one("loops_forever.py")
    assert result.outcome == "timeout"
    assert "node server in on_ping (a 'ping' from client)" in result.message
    assert "loops_forever.py:9" in result.message
    assert "without waiting" in result.message


def test_a_handler_that_blocks_the_process_is_stopped_and_named() -> None:
    result = grade_one("blocks_in_sleep.py")
    assert result.outcome == "timeout"
    assert "node server in on_ping" in result.message
    assert "blocks_in_sleep.py:11" in result.message
    assert "time.sleep" in result.message


def test_a_hang_keeps_the_trace_up_to_it(tmp_path: Path) -> None:
    test = TESTS["test_all_pongs_arrive"]
    result = test.run_seed(1, impl=IMPLS / "loops_forever.py", lab=LAB0, trace_dir=tmp_path)
    assert result.trace is not None
    text = Path(result.trace).read_text(encoding="utf-8")
    assert '"kind":"deliver"' in text.replace(" ", "")
    assert "the node host stopped" in text
    assert text.rstrip().endswith("}") and "check_failed" in text.splitlines()[-1]


def test_a_flood_names_the_node_and_its_rate() -> None:
    result = grade_one("floods.py")
    assert result.outcome == "error"
    assert "flood" in result.message
    assert "node client" in result.message
    assert "floods.py" in result.message


def test_os_exit_in_node_code_is_the_students_exit_not_a_success() -> None:
    result = grade_one("exits.py")
    assert result.outcome == "error"
    assert "node client" in result.message and "os._exit(0)" in result.message
    assert "your code ended the process it runs in" in result.message


def test_sys_exit_in_a_handler_is_named() -> None:
    result = grade_one("calls_sys_exit.py")
    assert result.outcome == "error"
    assert "node server in on_ping" in result.message and "sys.exit(3)" in result.message


def test_a_node_that_kills_its_process_is_told_how() -> None:
    result = grade_one("kills_itself.py")
    assert result.outcome == "error"
    assert "was killed by SIGKILL" in result.message


def test_a_submission_that_patches_the_grader_changes_nothing_here() -> None:
    run_seed = _graded.GradedTest.run_seed
    verdict = _graded._verdict
    result = grade_one("forges_the_grader.py")
    assert result.outcome == "failed"
    assert _graded.GradedTest.run_seed is run_seed
    assert _graded._verdict is verdict


def test_an_implementation_that_does_not_import_is_one_line() -> None:
    result = grade_one("raises_on_import.py")
    assert result.outcome == "error"
    assert "raises_on_import.py failed to import: line" in result.message
    assert "\n" not in result.message


def test_wall_clock_and_random_calls_are_reported_with_their_lines() -> None:
    result = grade_one("reads_the_clock.py")
    assert result.outcome == "passed"
    found = "\n".join(result.nondeterminism)
    assert "node client called time.time() at" in found and "reads_the_clock.py:20" in found
    assert "node client called random.random() at" in found
    assert "reads_the_clock.py:24" in found


def test_unseeded_random_still_replays_exactly() -> None:
    first = TESTS["test_lost_pings_are_retried"].run_seed(
        3, impl=IMPLS / "reads_the_clock.py", lab=LAB0
    )
    again = TESTS["test_lost_pings_are_retried"].run_seed(
        3, impl=IMPLS / "reads_the_clock.py", lab=LAB0
    )
    assert first.outcome == again.outcome == "passed"
    assert first.events == again.events


def test_module_globals_are_shared_by_no_two_nodes_in_the_simulator() -> None:
    result = grade_one("shares_globals.py")
    assert result.outcome == "failed"  # the client never sees the server's list


@pytest.mark.parametrize("placement", ["sim", "inprocess"])
def test_module_globals_do_not_survive_a_crash(placement: str) -> None:
    spec = LAB0.cluster_spec(IMPLS / "shares_globals.py")
    seen: dict[str, object] = {}

    async def main() -> None:
        async with open_cluster(spec, seed=1, placement=placement) as cluster:  # type: ignore[arg-type]
            with trio.fail_after(10):
                status = await cluster.wait_for_status("client", lambda s: "pongs" in s)
            seen["pongs"] = status["pongs"]
            seen["first"] = cluster.status_of("client")["starts"]
            await cluster.restart("client")
            with trio.fail_after(10):
                status = await cluster.wait_for_status("client", lambda s: "starts" in s)
            seen["second"] = status["starts"]

    if placement == "sim":
        run_simulated(main, seed=1)
    else:
        trio.run(main)
    assert seen == {"pongs": 0, "first": 1, "second": 1}


def test_the_host_leaves_no_process_behind() -> None:
    before = _children()
    grade_one("loops_forever.py")
    grade_one("exits.py")
    grade_one("shares_globals.py")
    assert _children() == before


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                found.add(int(pid))
    return found


def test_a_failing_seed_replays_byte_for_byte_alone_in_another_process(tmp_path: Path) -> None:
    """The trace a full grade keeps for a failing seed is the trace of that seed graded alone
    (the printed replay command), in other processes, with another hash seed."""
    mutant = next(m for m in LAB0.mutants if m.stem == "gives_up")
    target = LAB0.mutants[mutant]
    full, alone = tmp_path / "full", tmp_path / "alone"
    common = ["grade", "0", "--impl", str(mutant), "--test", target]
    first = distlab(*common, "--seeds", "12", "--parallel", "2", "--traces", str(full))
    assert first.returncode == 1
    kept = sorted(full.rglob(f"{target}-seed*.jsonl"))
    assert kept, first.stdout
    seed = int(kept[0].stem.rsplit("seed", 1)[1])
    again = distlab(*common, "--seed", str(seed), "--traces", str(alone), hash_seed="123")
    assert again.returncode == 1
    [replayed] = alone.rglob(kept[0].name)
    assert replayed.read_bytes() == kept[0].read_bytes()


def test_a_forged_frame_on_the_hosts_channel_is_the_students_error() -> None:
    result = grade_one("writes_to_the_channel.py")
    assert result.outcome == "error"
    assert "wrote to distlab's channel" in result.message
