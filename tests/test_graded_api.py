"""The pieces graded tests are written with: LabRun, its clients and their histories."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from distlab import Cluster, ConfigError, ScenarioResult, open_cluster, run_simulated
from distlab._labs import find_lab, load_lab, play
from distlab.grading import CheckFailed, LabRun, latency_percentile, messages_per_operation
from distlab.grading._grader import discover


def lab_run(seed: int = 1) -> LabRun:
    return LabRun(lab=find_lab("0"), impl=None, seed=seed, runtime="sim", trace_path=None)


def test_a_client_records_invokes_and_their_completions() -> None:
    run = lab_run()

    async def body() -> None:
        async with run.cluster(delay=0.01) as cluster:
            client = await run.client(cluster)
            reply = await client.call("server", {"type": "ping", "seq": 1}, timeout=1)
            assert reply is not None and reply.body["seq"] == 1
            cluster.network.isolate("server")
            assert await client.call("server", {"type": "ping", "seq": 2}, timeout=0.5) is None
            cluster.network.heal()
            await client.call("server", {"type": "ping", "seq": 3}, timeout=1)
            assert latency_percentile(run.history, percentile=100, at_most=0.05) >= 0.02
            messages_per_operation(cluster.trace.events, run.history, at_most=100)

    run_simulated(body, seed=1)
    kinds = [(op.kind, op.f, op.op_id) for op in run.history.ops]
    assert kinds == [
        ("invoke", "ping", 1),
        ("ok", "ping", 1),
        ("invoke", "ping", 2),
        ("timeout", "ping", 2),
        ("invoke", "ping", 3),
        ("ok", "ping", 3),
    ]
    assert {op.dest for op in run.history.ops} == {"server"}  # whom each request went to
    [(_, timed_out)] = [(i, c) for i, c in run.history.completions() if i.op_id == 2]
    assert timed_out is not None and timed_out.t - run.history.invocation(2).t == 0.5


def test_the_same_seed_gives_a_test_body_the_same_run() -> None:
    def one(seed: int) -> list[str]:
        run = lab_run(seed)

        async def body() -> None:
            async with run.cluster(drop=0.4) as cluster:
                with trio.move_on_after(5):
                    await cluster.wait_for_status("client", lambda s: s.get("done") is True)

        run_simulated(body, seed=seed)
        return [e.to_json() for e in run.clusters[0].trace.events]

    assert one(3) == one(3)
    assert one(3) != one(4)


def test_a_check_failure_is_an_assertion_with_the_words_given() -> None:
    failure = CheckFailed("the client got 3 of 5 pongs")
    assert isinstance(failure, AssertionError)
    assert str(failure) == "the client got 3 of 5 pongs"


def test_a_test_can_run_a_role_with_another_number_of_nodes() -> None:
    lab = find_lab("1")
    names = [node.name for node in lab.cluster_spec(counts={"worker": 1}).nodes]
    assert names == ["master", "worker-1", "client"]  # one worker, still named like several
    names = [node.name for node in lab.cluster_spec(counts={"worker": 5, "master": 1}).nodes]
    assert names == ["master", *(f"worker-{i}" for i in range(1, 6)), "client"]
    run = LabRun(lab=lab, impl=None, seed=1, runtime="sim", trace_path=None)

    async def body() -> None:
        async with run.cluster(counts={"worker": 2}, config={"client_jobs": 0}) as cluster:
            assert cluster.roster.with_role("worker") == ["worker-1", "worker-2"]
            client = await run.client(cluster)
            reply = await client.call("master", {"type": "sum", "numbers": [1, 2, 3]}, timeout=1)
            assert reply is not None and reply.body["sum"] == 6

    run_simulated(body, seed=1)


def test_counts_for_a_role_the_lab_lacks_is_a_clear_error() -> None:
    lab = find_lab("1")
    with pytest.raises(ConfigError, match="no role 'judge' in lab 1: its roles are master"):
        lab.cluster_spec(counts={"judge": 2})
    with pytest.raises(ConfigError, match=r"counts\['worker'\] = -1: give a whole number"):
        lab.cluster_spec(counts={"worker": -1})


def test_tui_columns_in_lab_toml_are_checked(tmp_path: Path) -> None:
    lab_dir = tmp_path / "07-demo"
    lab_dir.mkdir()
    (lab_dir / "solution.py").write_text("", encoding="utf-8")
    toml = '[[nodes]]\nrole = "server"\nclass = "Server"\n'
    (lab_dir / "lab.toml").write_text(
        f'title = "t"\nsolution = "solution.py"\n{toml}\n[tui]\ncolumns = ["term", "holder"]\n',
        encoding="utf-8",
    )
    assert load_lab(lab_dir).columns == ("term", "holder")
    (lab_dir / "lab.toml").write_text(
        f'title = "t"\nsolution = "solution.py"\n{toml}\n[tui]\ncolumns = "term"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"\[tui\]: 'columns' must be a list of status field"):
        load_lab(lab_dir)


def test_a_test_client_named_like_a_labs_node_is_a_clear_error() -> None:
    run = LabRun(lab=find_lab("4"), impl=None, seed=1, runtime="sim", trace_path=None)

    async def body() -> None:
        async with run.cluster(config={"client_turns": 0}) as cluster:
            with pytest.raises(ConfigError, match="already has a node named 'client-1'"):
                await run.client(cluster)
            assert (await run.client(cluster, name="user-1")).name == "user-1"

    run_simulated(body, seed=1)


STATEFUL_IMPL = '''
"""Lab 0's solution, with a module-level list: state that outlives one run if the module does."""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path({solution!r}))
STARTS: list[str] = []

PingServer = solution.PingServer


class PingClient(solution.PingClient):
    async def on_start(self) -> None:
        STARTS.append(self.id)
        if len(STARTS) > 1:
            raise RuntimeError(f"this module saw {{len(STARTS)}} client starts")
        await super().on_start()
'''


def test_each_seed_runs_on_freshly_loaded_student_code(tmp_path: Path) -> None:
    """Module state must not leak from one seed to the next, or ``--seed N`` alone would not
    replay seed N of a full run."""
    lab = find_lab("0")
    impl = tmp_path / "stateful.py"
    impl.write_text(STATEFUL_IMPL.format(solution=str(lab.solution)), encoding="utf-8")
    [test] = [t for t in discover(lab) if t.name == "test_all_pongs_arrive"]
    lab.cluster_spec(impl)  # as the grading worker does first: the module is loaded once here
    for seed in (1, 2, 3):
        result = test.run_seed(seed, impl=impl, lab=lab)
        assert result.outcome == "passed", result.message


def test_a_demo_scenario_that_raises_fails_the_run_in_words() -> None:
    """A lab's demo is code too: its exception is a failed run (CLI and TUI), not a crash."""
    lab = find_lab("0")

    async def pause_twice(cluster: Cluster) -> None:
        await cluster.pause("client")
        await cluster.pause("client")  # a ConfigError

    async def raising(cluster: Cluster, *, duration: float) -> ScenarioResult:
        async with trio.open_nursery() as nursery:  # so it comes in an exception group
            nursery.start_soon(pause_twice, cluster)
        return ScenarioResult.ok("unreachable")

    async def main() -> ScenarioResult:
        async with open_cluster(lab.cluster_spec(), seed=1, placement="sim") as cluster:
            return await play(raising, cluster, duration=1.0)

    result = run_simulated(main, seed=1)
    assert result == ScenarioResult.failed(
        "the demo scenario raised ConfigError: cannot pause client: it is paused, not up"
    )


def test_a_failing_seeds_trace_marks_the_stretch_a_linearizability_failure_names(
    tmp_path: Path,
) -> None:
    from distlab._trace import read_trace
    from distlab.grading import RegisterModel, check_linearizable, graded
    from distlab.grading._graded import GRADED_ATTR

    async def body(run: LabRun) -> None:
        async with run.cluster(delay=0.01):
            await trio.sleep(3)
        wrote = run.history.invoke("c1", "write", {"value": 1}, 1.0)
        run.history.complete(wrote, "ok", {}, 1.5)
        read = run.history.invoke("c2", "read", {}, 2.0)
        run.history.complete(read, "ok", {"value": 7}, 2.5)  # never written: a stale read
        check_linearizable(run.history, RegisterModel(read="read", write="write"))

    body.__name__ = "test_reads_what_was_written"
    test = getattr(graded(points=1, seeds=1)(body), GRADED_ATTR)
    result = test.run_seed(1, impl=None, trace_dir=tmp_path, lab=find_lab("0"))
    assert result.outcome == "failed", result.message
    assert "not linearizable" in result.message
    assert result.trace is not None
    verdict = list(read_trace(Path(result.trace)))[-1]
    assert verdict.kind == "check_failed"
    assert (verdict["from"], verdict["until"]) == (1.0, 2.5)
