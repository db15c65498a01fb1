"""The simulator: the same seed replays the same run, byte for byte, in any process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import partial
from pathlib import Path

import heartbeats
import pytest
import test_runtime as runtime
import trio
from nodes import Echo
from run_cli import distlab as run_distlab

from distlab import ClusterSpec, DistlabError, NodeSpec, open_cluster, read_trace, run_simulated
from distlab._sim import deterministic_scheduling

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def test_trios_deterministic_scheduling_hook_is_still_there() -> None:
    # distlab's determinism rests on this private hook of trio (the one its Hypothesis plugin
    # uses). If a trio upgrade renames it, this fails before any trace silently diverges.
    from trio._core import _run

    assert hasattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING")
    assert hasattr(_run, "_r")
    with deterministic_scheduling(1):
        assert _run._ALLOW_DETERMINISTIC_SCHEDULING is True
    assert _run._ALLOW_DETERMINISTIC_SCHEDULING is False


def test_same_seed_same_trace_in_one_process_and_different_seeds_differ() -> None:
    first = heartbeats.digest(heartbeats.run(seed=5, seconds=20))
    again = heartbeats.digest(heartbeats.run(seed=5, seconds=20))
    other = heartbeats.digest(heartbeats.run(seed=6, seconds=20))
    assert first == again
    assert first != other


def test_ties_between_tasks_are_what_trio_would_shuffle() -> None:
    # Without the hook, trio shuffles runnable tasks at random: the same seed would not give
    # the same trace. Show that the scenario is sensitive to it, so the test above means something.
    digests = set()
    for _ in range(3):

        async def main() -> str:
            async with open_cluster(
                heartbeats.SPEC, seed=5, placement="sim", faults=heartbeats.FAULTS
            ) as cluster:
                await trio.sleep(20)
            return heartbeats.digest(cluster.trace)

        digests.add(trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0)))
    assert len(digests) > 1


@pytest.mark.parametrize("seed", [3, 11])
def test_same_seed_same_trace_across_separate_processes(seed: int) -> None:
    def digest_in_a_new_process(hash_seed: str) -> str:
        result = subprocess.run(
            [sys.executable, str(TESTS / "heartbeats.py"), str(seed), "60"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        return result.stdout.strip()

    digests = {digest_in_a_new_process(h) for h in ("0", "1", "random")}
    assert len(digests) == 1
    assert digests == {heartbeats.digest(heartbeats.run(seed=seed, seconds=60))}


def test_lab_zero_traces_are_identical_across_processes(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> bytes:
        trace = tmp_path / name
        subprocess.run(
            [
                sys.executable,
                "-m",
                "distlab",
                "run",
                "0",
                "--sim",
                "--seed",
                str(seed),
                "--drop",
                "0.3",
                "--duplicate",
                "0.1",
                "--delay",
                "20",
                "--jitter",
                "15",
                "--quiet",
                "--trace",
                str(trace),
            ],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=ROOT,
        )
        return trace.read_bytes()

    first, second, third = run("a.jsonl", 8), run("b.jsonl", 8), run("c.jsonl", 9)
    assert first == second
    assert first != third


def test_simulated_time_is_virtual() -> None:
    trace = heartbeats.run(seed=1, seconds=60)
    assert trace.events[-1].kind == "run_end"
    assert 60.0 <= trace.events[-1].t < 60.1
    assert trace.counts["send"] >= 5 * 10 * 59  # five nodes, ten heartbeats a second


async def test_the_sim_placement_refuses_the_real_clock() -> None:
    spec = ClusterSpec((NodeSpec("echo", "echo", Echo),))
    with pytest.raises(DistlabError, match="needs virtual time"):
        async with open_cluster(spec, placement="sim"):
            pass


SIMULATED = [
    runtime.test_ping_pong_in_every_placement,
    runtime.test_a_raising_handler_crashes_only_its_node,
    runtime.test_crash_and_restart_keep_storage_and_lose_memory,
    runtime.test_pause_stops_a_node_and_resume_lets_it_catch_up,
    runtime.test_spawn_adds_a_node_that_others_can_reach,
    runtime.test_unknown_destination_and_oversized_messages_are_rejected_at_the_sender,
    runtime.test_every_message_has_exactly_one_fate,
    runtime.test_partition_and_heal,
    runtime.test_delays_hold_messages_back_by_the_drawn_amount,
]


@pytest.mark.parametrize("check", SIMULATED, ids=lambda f: f.__name__.removeprefix("test_"))
def test_the_runtime_behaves_the_same_in_the_simulator(check: object) -> None:
    run_simulated(check, "sim", seed=1)  # type: ignore[arg-type]


# -- the command line ---------------------------------------------------------------------


distlab = partial(run_distlab, columns=200)


def test_check_determinism_passes_on_lab_zero() -> None:
    result = distlab("run", "0", "--sim", "--seed", "4", "--drop", "0.3", "--check-determinism")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS the run is deterministic" in result.stdout


@pytest.mark.parametrize(
    ("node_class", "call"),
    [("WallClockReader", "time.time()"), ("UnseededRandom", "random.random()")],
)
def test_check_determinism_catches_wall_clock_and_unseeded_randomness(
    tmp_path: Path, node_class: str, call: str
) -> None:
    impl = tmp_path / "impl.py"
    impl.write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        f"from nodes import Echo as PingServer, {node_class} as PingClient\n"
    )
    result = distlab(
        "run",
        "0",
        "--sim",
        "--seed",
        "1",
        "--duration",
        "1",
        "--impl",
        str(impl),
        "--check-determinism",
    )
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    if call == "time.time()":
        assert "not deterministic: node client behaved differently at t=0.000 s" in out
        assert "did it read the wall clock or use unseeded randomness?" in out
    else:  # the node host seeds `random` too: the run replays, but the call is still wrong
        assert "the two runs recorded the same trace" in out
    assert f"node client called {call} at" in out
    assert "nodes.py" in out
    assert "FAIL this run cannot be replayed exactly" in out


def test_check_determinism_needs_sim() -> None:
    result = distlab("run", "0", "--check-determinism")
    assert result.returncode == 2
    assert "--check-determinism needs --sim" in result.stderr


def test_a_seed_sweep_reports_exactly_the_failing_seeds() -> None:
    flags = ["--drop", "0.3", "--duration", "3"]
    result = distlab("run", "0", "--sim", "--seeds", "50", "--parallel", "2", *flags)
    assert result.returncode == 1
    out = result.stdout
    passed = int(re.search(r"(\d+)/50 seeds passed", out).group(1))  # type: ignore[union-attr]
    rows = re.findall(r"│ (\d+)\s+│ (\d+)\s+│ the client got (\d) of 5 pongs", out)
    assert 10 < 50 - passed <= 30 and len(rows) == 10  # the table shows ten...
    events = [int(n) for _, n, _ in rows]
    assert events == sorted(events)  # the shortest failing run first
    more = re.search(r"and (\d+) more failing seeds: ([\d, ]+)$", out, re.M)
    assert more is not None and int(more.group(1)) == 50 - passed - 10  # ...and counts the rest
    failing = {int(seed) for seed, _, _ in rows} | {int(s) for s in more.group(2).split(", ")}
    assert len(failing) == 50 - passed
    # Each reported seed fails alone, with the replay command printed for it...
    replay = f"distlab run 0 --sim --seed {rows[0][0]} --drop 0.3 --duration 3"
    assert replay in " ".join(out.split())
    for seed in sorted(failing)[:2]:
        alone = distlab("run", "0", "--sim", "--seed", str(seed), "--quiet", *flags)
        assert alone.returncode == 1
    # ...and a seed not reported passes alone.
    good = min(set(range(1, 51)) - failing)
    assert distlab("run", "0", "--sim", "--seed", str(good), "--quiet", *flags).returncode == 0


def test_a_sweep_lists_ten_failing_seeds_and_counts_the_rest() -> None:
    impatient = Path(__file__).resolve().parent.parent / "labs/00-ping/mutants/impatient.py"
    swept = distlab("run", "0", "--sim", "--seeds", "40", "--drop", "0.5", "--impl", str(impatient))
    failed = int(re.search(r"FAIL (\d+) of 40 seeds failed", swept.stdout).group(1))  # type: ignore[union-attr]
    assert failed > 10
    rows = re.findall(r"^│ (\d+) +│", swept.stdout, re.M)
    assert len(rows) == 10
    assert f"and {failed - 10} more failing seeds: " in swept.stdout


def test_a_runs_trace_ends_with_its_verdict_and_why_it_ended(tmp_path: Path) -> None:
    failing, passing = tmp_path / "failing.jsonl", tmp_path / "passing.jsonl"
    distlab("run", "0", "--sim", "--seed", "7", "--drop", "0.5", "--trace", str(failing))
    distlab("run", "0", "--sim", "--seed", "7", "--trace", str(passing))
    *_, verdict, end = read_trace(failing)
    assert verdict.kind == "check_failed" and verdict["test"] == "the demo scenario"
    assert verdict["message"] == "the client got 4 of 5 pongs in 10 s"
    assert end.kind == "run_end" and end["reason"] == "time ran out after 10 s"
    *_, verdict, end = read_trace(passing)
    assert verdict.kind == "check_passed" and end["reason"] == "the run finished"


def test_replay_prints_a_trace_filtered(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    made = distlab(
        "run", "0", "--sim", "--seed", "3", "--drop", "0.3", "--quiet", "--trace", str(trace)
    )
    assert made.returncode == 0
    everything = distlab("replay", str(trace))
    assert everything.returncode == 0
    total = int(re.search(r"(\d+) of (\d+) events shown", everything.stdout).group(2))  # type: ignore[union-attr]
    drops = distlab("replay", str(trace), "--kind", "drop")
    assert "dropped ping" in drops.stdout or "dropped pong" in drops.stdout
    assert "→" not in drops.stdout  # no sends
    window = distlab("replay", str(trace), "--from", "1", "--to", "2", "--node", "server")
    times = [float(m) for m in re.findall(r"^\s+(\d+\.\d+)\s", window.stdout, re.M)]
    assert times and all(1 <= t <= 2 for t in times)
    pongs = distlab("replay", str(trace), "--type", "pong")
    shown = int(re.search(r"(\d+) of", pongs.stdout).group(1))  # type: ignore[union-attr]
    assert 0 < shown < total
    missing = distlab("replay", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "no such trace file" in missing.stderr


def test_replay_refuses_bad_input_in_one_line_and_says_what_it_left_out(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    distlab("run", "0", "--sim", "--seed", "3", "--quiet", "--trace", str(trace))
    lines = trace.read_text().splitlines(keepends=True)
    cases = {
        "array.jsonl": "[1, 2]\n",
        "empty.jsonl": "",
        "no-seq.jsonl": '{"t": 0, "kind": "run_start"}\n',
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        refused = distlab("replay", str(tmp_path / name))
        assert refused.returncode == 2, name
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "Traceback" not in refused.stderr
    assert "a JSON list, not an event" in distlab("replay", str(tmp_path / "array.jsonl")).stderr
    assert "is empty" in distlab("replay", str(tmp_path / "empty.jsonl")).stderr
    backwards = distlab("replay", str(trace), "--from", "5", "--to", "1")
    assert backwards.returncode == 2 and "--from 5 is after --to 1" in backwards.stderr
    torn = tmp_path / "torn.jsonl"
    torn.write_text("".join(lines[:-1]) + lines[-1][:20])  # killed while writing its last line
    shown = distlab("replay", str(torn))
    assert shown.returncode == 0
    assert f"{len(lines) - 1} of {len(lines) - 1} events shown" in shown.stdout
    assert f"line {len(lines)} is cut off" in shown.stdout


def test_check_determinism_catches_a_clock_imported_by_name(tmp_path: Path) -> None:
    """``from time import monotonic`` binds the function when the file is imported: the probe
    sees it because each run imports the student's file afresh, inside the probe."""
    impl = tmp_path / "impl.py"
    impl.write_text(
        "from time import monotonic\n"
        "from distlab import Node\n"
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        "from nodes import Echo as PingServer\n\n\n"
        "class PingClient(Node):\n"
        "    async def on_start(self) -> None:\n"
        "        self.status(started=monotonic())\n",
        encoding="utf-8",
    )
    result = distlab(
        "run", "0", "--sim", "--seed", "1", "--duration", "1", "--impl", str(impl),
        "--check-determinism",
    )  # fmt: skip
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert "node client called time.monotonic() at" in out and "impl.py:10" in out
