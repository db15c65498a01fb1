"""Fault schedules: the right faults at the right virtual times, the same for the same seed."""

from __future__ import annotations

import doctest
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import trio
from nodes import Echo, Keeper

import distlab.grading._schedule
from distlab import Cluster, ClusterSpec, ConfigError, FaultState, Node, NodeSpec, open_cluster
from distlab import run_simulated as simulate
from distlab._faults import Groups, Isolate
from distlab.grading._schedule import (
    FaultSchedule,
    bridge,
    crash,
    groups,
    halves,
    heal,
    isolated,
    majority_minority,
    node,
    node_where,
    partition,
    pause,
    random_node,
    restart,
    resume,
    set_faults,
)

T = TypeVar("T")

FIVE = [f"n{i}" for i in range(1, 6)]


def make_spec(*nodes: tuple[str, str, type[Node]]) -> ClusterSpec:
    return ClusterSpec(tuple(NodeSpec(name, role, cls) for name, role, cls in nodes))


ECHOES = make_spec(*((name, "node", Echo) for name in FIVE))
WORKERS = make_spec(
    *((f"w{i}", "worker", Echo) for i in range(1, 5)),
    ("s1", "server", Echo),
    ("s2", "server", Echo),
)


def run(spec: ClusterSpec, body: Callable[[Cluster], Awaitable[T]], *, seed: int = 1) -> T:
    """Run ``body(cluster)`` in the simulator, on a cluster of ``spec``."""

    async def main() -> T:
        async with open_cluster(spec, seed=seed, placement="sim") as cluster:
            return await body(cluster)

    return simulate(main, seed=seed)


def blocked_pairs(cluster: Cluster) -> set[tuple[str, str]]:
    names = cluster.names
    return {(a, b) for a in names for b in names if a != b and cluster.network.blocked(a, b)}


def across(left: list[str], right: list[str]) -> set[tuple[str, str]]:
    return {(a, b) for a in left for b in right} | {(b, a) for a in left for b in right}


def events(cluster: Cluster, kind: str) -> list[tuple[float, str]]:
    return [(e.t, e["node"]) for e in cluster.trace.of_kind(kind)]


def fault_changes(cluster: Cluster) -> list[tuple[float, str]]:
    return [(e.t, e["change"]) for e in cluster.trace.of_kind("fault")]


# -- when actions fire ---------------------------------------------------------------------------


def test_at_fires_each_action_at_its_virtual_time() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=1)
        schedule.at(1.5, crash("n2")).at(0.25, pause(node("n3"))).at(2.0, restart("n2"))
        async with schedule.running():
            await trio.sleep(3)
        assert schedule.log == [
            (0.25, "paused n3"),
            (1.5, "crashed n2"),
            (2.0, "restarted n2"),
        ]
        assert events(cluster, "pause") == [(0.25, "n3")]
        assert events(cluster, "crash") == [(1.5, "n2")]
        assert events(cluster, "restart") == [(2.0, "n2")]

    run(ECHOES, body)


def test_leaving_running_cancels_what_is_left_of_the_plan() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=1)
        schedule.at(0.5, crash("n1")).at(100, crash("n2"))
        schedule.every(1.0, heal())  # endless
        async with schedule.running():
            await trio.sleep(2.5)
        await trio.sleep(200)
        assert schedule.log == [
            (0.5, "crashed n1"),
            (1.0, "healed all partitions"),
            (2.0, "healed all partitions"),
        ]
        assert cluster.state("n2") == "up"
        with pytest.raises(RuntimeError, match="runs once"):
            async with schedule.running():
                pass

    run(ECHOES, body)


def every_log(seed: int) -> list[tuple[float, str]]:
    async def body(cluster: Cluster) -> list[tuple[float, str]]:
        schedule = FaultSchedule(cluster, seed=seed)
        schedule.every(1.0, heal(), jitter=0.3, until=10.0)
        schedule.every(0.5, crash(random_node()), start=0.1, jitter=0.2, until=6.0)
        schedule.every(0.5, restart(random_node(state="crashed")), start=0.3, jitter=0.2)
        async with schedule.running():
            await trio.sleep(11)
        heals = [t for t, words in schedule.log if words == "healed all partitions"]
        assert heals == [t for t, change in fault_changes(cluster) if change.startswith("heal")]
        return schedule.log

    return run(ECHOES, body)


def test_every_with_jitter_stays_in_bounds_and_replays_per_seed() -> None:
    log = every_log(3)
    heals = [t for t, words in log if words == "healed all partitions"]
    assert len(heals) in (9, 10)
    for k, t in enumerate(heals, start=1):
        assert k - 0.3 <= t <= k + 0.3
    assert len(set(heals)) == len(heals) and heals == sorted(heals)
    assert any(t != round(t) for t in heals)  # jitter was applied
    crashes = [t for t, words in log if words.startswith("crashed")]
    assert 10 <= len(crashes) <= 12
    for k, t in enumerate(crashes, start=1):
        assert 0.1 + 0.5 * k - 0.2 <= t <= 0.1 + 0.5 * k + 0.2
    assert all(t <= 6.0 for t in crashes)
    assert any("(a random node)" in words for _, words in log)
    assert any("(a random crashed node)" in words for _, words in log)

    assert every_log(3) == log
    other = every_log(4)
    assert [t for t, _ in other] != [t for t, _ in log]


def test_cycle_alternates_partition_and_heal() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=2)
        schedule.cycle([partition(halves()), heal()], period=0.5, start=1.0, until=4.0)
        cuts_seen: list[int] = []

        async def watch() -> None:
            for _ in range(6):
                await trio.sleep(0.5)
                cuts_seen.append(len(cluster.network.state.cuts))

        async with schedule.running():
            await trio.sleep(1.25)
            await watch()
        assert [t for t, _ in schedule.log] == [1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
        for i, (_, words) in enumerate(schedule.log):
            if i % 2 == 0:
                assert words.startswith("split into halves: ")
            else:
                assert words == "healed all partitions"
        changes = fault_changes(cluster)
        assert [t for t, _ in changes] == [1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
        assert [c.startswith("partition: half-1:") for _, c in changes] == [True, False] * 3
        assert [c == "heal all partitions" for _, c in changes] == [False, True] * 3
        assert cuts_seen == [1, 0, 1, 0, 1, 0]

    run(ECHOES, body)


# -- targets -------------------------------------------------------------------------------------


def test_random_node_picks_only_its_role_and_only_up_nodes() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=5)
        schedule.cycle(
            [crash(random_node("worker")), restart(random_node("worker", state="crashed"))],
            period=0.1,
            until=4.0,
        )
        async with schedule.running():
            await trio.sleep(4.05)
        crashed = [name for _, name in events(cluster, "crash")]
        assert len(crashed) == 20
        assert set(crashed) == {"w1", "w2", "w3", "w4"}  # every worker, never a server
        restarted = [name for _, name in events(cluster, "restart")]
        assert restarted == crashed  # only one is down at a time: the restart finds it
        assert [w for _, w in schedule.log[:2]] == [
            f"crashed {crashed[0]} (a random worker)",
            f"restarted {crashed[0]} (a random crashed worker)",
        ]

    run(WORKERS, body)


def test_a_target_that_finds_no_node_is_a_logged_no_op() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=5)
        for i in range(5):
            schedule.at(0.1 * (i + 1), crash(random_node("worker")))
        schedule.at(0.6, crash("ghost"))
        schedule.at(0.7, restart(random_node("server", state="crashed")))
        schedule.at(0.8, resume("s1"))
        schedule.at(0.9, crash("w1"))
        schedule.at(1.0, pause("w1"))
        async with schedule.running():
            await trio.sleep(1.5)
        skipped = [words for _, words in schedule.log if words.startswith("skipped")]
        assert skipped == [
            "skipped crash (a random worker): no node matched",
            "skipped crash (ghost): no node matched",
            "skipped restart (a random crashed server): no node matched",
            "skipped resume: cannot resume s1: it is up, not paused",
            "skipped crash of w1: it is crashed",
            "skipped pause: cannot pause w1: it is crashed, not up",
        ]
        assert len(cluster.trace.of_kind("crash")) == 4

    run(WORKERS, body)


def test_node_where_picks_by_status_among_nodes_that_are_up() -> None:
    keepers = make_spec(*((f"k{i}", "keeper", Keeper) for i in range(1, 4)))

    async def body(cluster: Cluster) -> None:
        await cluster.restart("k2")  # its status now says boots=2
        rebooted = node_where(lambda s: s.get("boots") == 2, description="the rebooted keeper")
        schedule = FaultSchedule(cluster, seed=1)
        schedule.at(0.1, crash(rebooted)).at(0.2, crash(rebooted))
        async with schedule.running():
            await trio.sleep(0.3)
        assert cluster.status_of("k2")["boots"] == 2  # a crashed node keeps its last status...
        assert schedule.log == [
            (0.1, "crashed k2 (the rebooted keeper)"),
            (0.2, "skipped crash (the rebooted keeper): no node matched"),  # ...but is not up
        ]

    run(keepers, body)


# -- partition shapes ----------------------------------------------------------------------------


def test_each_partition_shape_cuts_the_expected_links() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=9)
        names = cluster.names

        async def cut(shape: distlab.grading._schedule.Shape) -> str:
            await schedule.fire(heal())
            return await schedule.fire(partition(shape))

        splits = set()
        for _ in range(4):
            await cut(halves())
            (cut_,) = cluster.network.state.cuts
            assert isinstance(cut_, Groups)
            left, right = (list(members) for _, members in cut_.groups)
            assert sorted([len(left), len(right)]) == [2, 3]
            assert sorted(left + right) == names
            assert blocked_pairs(cluster) == across(left, right)
            splits.add(tuple(left))
        assert len(splits) > 1  # drawn with the RNG, not always the same

        words = await cut(majority_minority())
        (cut_,) = cluster.network.state.cuts
        assert isinstance(cut_, Groups)
        sides = dict(cut_.groups)
        assert (len(sides["majority"]), len(sides["minority"])) == (3, 2)
        assert blocked_pairs(cluster) == across(list(sides["majority"]), list(sides["minority"]))
        assert words.startswith("split into majority ")

        words = await cut(bridge())
        blocked = blocked_pairs(cluster)
        (middle,) = [n for n in names if not any(n in pair for pair in blocked)]
        others = [n for n in names if n != middle]
        left = [n for n in others if (others[0], n) not in blocked]
        right = [n for n in others if n not in left]
        assert (len(left), len(right)) == (2, 2)
        assert blocked == across(left, right)  # the sides cannot talk, the bridge talks to all
        assert len(cluster.network.state.cuts) == 8
        assert words.endswith(f"with {middle} as a bridge to both")
        assert fault_changes(cluster)[-1][1] == f"partition: {words}"  # one event for it all

        words = await cut(isolated("n3"))
        assert cluster.network.state.cuts == (Isolate("n3"),)
        assert blocked_pairs(cluster) == across(["n3"], ["n1", "n2", "n4", "n5"])
        assert words == "isolated n3"

        await cut(groups({"a": ["n1"], "b": ["n2", "n3"]}))  # n4, n5: a third group
        assert blocked_pairs(cluster) == (
            across(["n1"], ["n2", "n3"]) | across(["n1", "n2", "n3"], ["n4", "n5"])
        )

    run(ECHOES, body)


def test_a_shape_of_one_role_splits_that_role_and_leaves_the_others_in_touch() -> None:
    """majority_minority(role="worker"): the workers split 3 | 1; the servers reach all."""

    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=3)
        words = await schedule.fire(partition(majority_minority(role="worker")))
        workers = cluster.roster.with_role("worker")
        blocked = blocked_pairs(cluster)
        minority = [w for w in workers if sum((w, other) in blocked for other in workers) == 3]
        majority = [w for w in workers if w not in minority]
        assert (len(majority), len(minority)) == (3, 1)
        assert blocked == across(majority, minority)  # s1 and s2 reach every worker
        assert words == (
            f"split of the worker nodes into majority {', '.join(majority)} | minority "
            f"{minority[0]}"
        )
        assert fault_changes(cluster)[-1][1] == f"partition: {words}"
        await schedule.fire(heal())
        await schedule.fire(partition(halves(role="worker")))
        blocked = blocked_pairs(cluster)
        assert len(blocked) == 2 * 2 * 2  # 2 workers x 2 workers, both ways
        assert not {node for pair in blocked for node in pair} & {"s1", "s2"}

    run(WORKERS, body)


def test_shapes_that_need_more_nodes_are_skipped() -> None:
    two = make_spec(("a", "node", Echo), ("b", "node", Echo))

    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=1)
        assert await schedule.fire(partition(bridge())) == (
            "skipped partition (bridge): it needs 3 nodes, there are 2"
        )
        assert await schedule.fire(partition(majority_minority(role="node"))) == (
            "skipped partition (majority/minority of the node nodes): it needs 3 nodes, there are 2"
        )
        assert await schedule.fire(partition(isolated(random_node("server")))) == (
            "skipped partition (isolate a random server): no node matched"
        )
        assert cluster.network.state.cuts == ()

    run(two, body)


# -- pauses, and the final heal ------------------------------------------------------------------


def test_a_timed_pause_resumes_by_itself_without_holding_up_the_plan() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=1)
        schedule.at(0.5, pause("n1", seconds=0.3)).at(0.6, crash("n2"))
        schedule.at(1.0, pause("n4", seconds=5))  # still pending when the body ends
        async with schedule.running():
            await trio.sleep(1.5)
        assert events(cluster, "pause") == [(0.5, "n1"), (1.0, "n4")]
        assert events(cluster, "crash") == [(0.6, "n2")]
        assert events(cluster, "resume") == [(0.8, "n1")]
        assert schedule.log == [
            (0.5, "paused n1 for 0.3 s"),
            (0.6, "crashed n2"),
            (0.8, "resumed n1 after its 0.3 s pause"),
            (1.0, "paused n4 for 5 s"),
        ]
        assert cluster.state("n4") == "paused"  # its resume was cancelled with the plan
        with pytest.raises(RuntimeError, match="from a FaultSchedule"):
            await schedule.fire(pause("n3", seconds=1))  # not running: nothing to resume it
        assert cluster.state("n3") == "up"

    run(ECHOES, body)


def test_final_heal_stops_the_plan_and_leaves_a_healthy_cluster() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=1)
        schedule.at(0.1, crash("n1")).at(0.2, pause("n2")).at(0.3, partition(halves()))
        schedule.at(0.4, set_faults(drop=0.5, delay=0.01)).at(0.5, partition(isolated("n5")))
        schedule.at(3.0, crash("n3"))  # never: the final heal stops the plan
        async with schedule.running():
            await trio.sleep(1)
            await schedule.final_heal()
            await trio.sleep(4)
        assert {name: cluster.state(name) for name in cluster.names} == dict.fromkeys(FIVE, "up")
        assert cluster.network.state == FaultState()
        assert blocked_pairs(cluster) == set()

        heal_event = cluster.trace.of_kind("fault")[-1]
        assert (heal_event.t, heal_event["change"]) == (1.0, "final heal: no partitions, no faults")
        assert heal_event["faults"]["cuts"] == []
        assert heal_event["faults"]["default"]["drop"] == 0
        assert events(cluster, "resume") == [(1.0, "n2")]
        assert events(cluster, "restart") == [(1.0, "n1")]
        assert events(cluster, "crash") == [(0.1, "n1")]
        last = cluster.trace.events.index(heal_event)
        assert [e.kind for e in cluster.trace.events[last:] if e.kind != "status"][:3] == [
            "fault",
            "resume",
            "restart",
        ]

        final = [words for t, words in schedule.log if t == 1.0]
        assert final[0].startswith("final heal: healed the network (was: delay 10 ms")
        assert final[1:] == ["final heal: resumed n2", "final heal: restarted n1"]
        await schedule.final_heal()
        assert schedule.log[-1] == (5.0, "final heal: nothing to heal")

    run(ECHOES, body)


# -- building plans ------------------------------------------------------------------------------


def test_plans_and_actions_are_checked_when_built() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=1)
        with pytest.raises(ValueError, match="jitter"):
            schedule.every(1.0, heal(), jitter=0.6)
        with pytest.raises(ValueError, match="period"):
            schedule.cycle([heal()], period=0)
        with pytest.raises(ValueError, match="at least one action"):
            schedule.cycle([], period=1)
        with pytest.raises(ConfigError, match="unknown fault setting"):
            set_faults(dorp=0.1)
        with pytest.raises(ConfigError, match="probability"):
            set_faults(drop=2)
        with pytest.raises(ConfigError, match="two partition groups"):
            groups({"a": ["n1"], "b": ["n1", "n2"]})
        async with schedule.running():
            with pytest.raises(RuntimeError, match="already running"):
                schedule.at(1.0, heal())

    run(ECHOES, body)


def test_the_modules_docstring_examples_run() -> None:
    results = doctest.testmod(distlab.grading._schedule)
    assert results.attempted > 0 and results.failed == 0


class SlowCrash:
    """A custom action that takes a while (like a restart of a node process) before it crashes."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        await trio.sleep(0.5)
        await cluster.crash(self.name)
        return f"crashed {self.name}, slowly"


def test_an_action_in_progress_finishes_before_the_final_heal() -> None:
    async def body(cluster: Cluster) -> None:
        schedule = FaultSchedule(cluster, seed=1)
        schedule.at(1.0, SlowCrash("n1"))
        async with schedule.running():
            await trio.sleep(1.2)
            await schedule.final_heal()  # the crash lands at 1.5, then the heal restarts n1
        assert events(cluster, "crash") == [(1.5, "n1")]
        assert events(cluster, "restart") == [(1.5, "n1")]
        assert cluster.state("n1") == "up"
        assert schedule.log == [
            (1.5, "crashed n1, slowly"),
            (1.5, "final heal: restarted n1"),
        ]

    run(ECHOES, body)


class Partitioner:
    """A custom action: anything with ``async apply(cluster, rng) -> str`` fits a schedule."""

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        loner = rng.choice(cluster.names)
        cluster.network.isolate(loner)
        return f"isolated {loner} (custom)"


async def test_a_live_cluster_follows_the_schedule_in_real_time() -> None:
    async with open_cluster(ECHOES, seed=1, placement="inprocess") as cluster:
        schedule = FaultSchedule(cluster, seed=1)
        start = cluster.now()
        schedule.at(start + 0.05, pause("n1", seconds=0.05)).at(start + 0.07, Partitioner())
        async with schedule.running():
            await trio.sleep(0.5)  # a wide margin: this one runs in real time
        await schedule.final_heal()
    when = {words.split()[0]: t - start for t, words in schedule.log}
    assert sorted(when) == ["final", "isolated", "paused", "resumed"]
    assert 0.05 <= when["paused"] <= when["isolated"] < 0.5
    assert when["paused"] + 0.05 <= when["resumed"] < 0.5  # before or after the isolate
    assert cluster.trace.of_kind("fault")[-1]["faults"]["cuts"] == []
