"""Fault actions aimed at protocol bugs: crash points, slow links, zombies (grading.faults)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from nodes import Echo, Listener, TwoSteps

from distlab import Cluster, ClusterSpec, NodeSpec, open_cluster
from distlab import run_simulated as simulate
from distlab._loading import NodeRef
from distlab.grading import faults
from distlab.grading._schedule import FaultSchedule

NODES_FILE = Path(__file__).resolve().parent / "nodes.py"


def spec(*, hosted: bool, stepper: str = "TwoSteps") -> ClusterSpec:
    """``hosted``: the nodes come from a file, as a lab's do (in the simulator: a node host)."""
    if hosted:
        return ClusterSpec(
            (
                NodeSpec("stepper", "node", NodeRef(NODES_FILE, stepper)),
                NodeSpec("listener", "node", NodeRef(NODES_FILE, "Listener")),
            )
        )
    return ClusterSpec(
        (NodeSpec("stepper", "node", TwoSteps), NodeSpec("listener", "node", Listener))
    )


def sent(cluster: Cluster, msg_type: str) -> list[int]:
    return [
        int(e["body"]["n"])
        for e in cluster.trace.of_kind("send")
        if e["src"] == "stepper" and e["body"].get("type") == msg_type
    ]


async def crash_between_the_steps(
    hosted: bool, stepper: str = "TwoSteps"
) -> tuple[Cluster, list[str]]:
    async with open_cluster(
        spec(hosted=hosted, stepper=stepper), seed=3, placement="sim"
    ) as cluster:
        schedule = FaultSchedule(cluster, seed=3)
        schedule.at(0.05, faults.crash_after("stepper", "first", nth=2))
        async with schedule.running():
            await trio.sleep(0.5)
        crashes = [str(e["reason"]) for e in cluster.trace.of_kind("crash")]
        return cluster, crashes


@pytest.mark.parametrize("hosted", [True, False], ids=["node host", "in process"])
def test_a_crash_point_crashes_the_node_between_two_steps(hosted: bool) -> None:
    cluster, crashes = simulate(crash_between_the_steps, hosted, seed=3)
    assert sent(cluster, "first") == [1, 2, 3]  # the 2nd "first" after the arming went out ...
    assert sent(cluster, "second") == [1, 2]  # ... and nothing after it
    assert crashes == ["crashed on purpose (a crash point: right after it sent a 'first')"]
    assert cluster.state("stepper") == "crashed"


def test_a_crash_point_reached_in_a_nursery_of_the_nodes_own_is_a_clean_crash() -> None:
    cluster, crashes = simulate(crash_between_the_steps, True, "TwoStepsInANursery", seed=3)
    assert sent(cluster, "first") == [1, 2, 3] and sent(cluster, "second") == [1, 2]
    assert crashes == ["crashed on purpose (a crash point: right after it sent a 'first')"]


ECHOES = ClusterSpec(tuple(NodeSpec(name, "node", Echo) for name in ("a", "b", "c")))


async def apply(
    action: faults.Action,
) -> tuple[list[tuple[float, str]], dict[tuple[str, str], float]]:
    """Fire ``action`` on three echo nodes; the schedule's log and each link's delay after it."""
    async with open_cluster(ECHOES, seed=1, placement="sim") as cluster:
        cluster.network.set_faults(delay=0.01, drop=0.1)
        schedule = FaultSchedule(cluster, seed=1)
        schedule.at(0.0, action)
        async with schedule.running():
            await trio.sleep(0.1)
        state = cluster.network.state
        delays = {
            (s, d): state.faults_for(s, d).delay
            for s in cluster.names
            for d in cluster.names
            if s != d
        }
        assert all(state.faults_for(s, d).drop == 0.1 for s, d in delays)  # other settings stay
        return schedule.log, delays


def test_a_slow_link_slows_one_direction_only() -> None:
    log, delays = simulate(apply, faults.slow_link("a", "b", delay=0.6), seed=1)
    assert delays[("a", "b")] == 0.6
    assert {link: d for link, d in delays.items() if link != ("a", "b")} == {
        link: 0.01 for link in delays if link != ("a", "b")
    }
    assert log[0][1] == "slowed a -> b to 0.6 s"


@pytest.mark.parametrize(
    ("way", "slow"),
    [
        ("out", {("a", "b"), ("a", "c")}),
        ("in", {("b", "a"), ("c", "a")}),
        ("both", {("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")}),
    ],
)
def test_a_slow_node_slows_the_links_it_is_asked_to(way: str, slow: set[tuple[str, str]]) -> None:
    _, delays = simulate(apply, faults.slow_node("a", delay=0.5, way=way), seed=1)  # type: ignore[arg-type]
    assert {link for link, d in delays.items() if d == 0.5} == slow
    assert all(d == 0.01 for link, d in delays.items() if link not in slow)


def test_a_zombie_is_paused_then_wakes_by_itself() -> None:
    async def body() -> list[tuple[float, str]]:
        async with open_cluster(ECHOES, seed=1, placement="sim") as cluster:
            schedule = FaultSchedule(cluster, seed=1)
            schedule.at(0.2, faults.zombie("b", seconds=1.0))
            async with schedule.running():
                await trio.sleep(0.5)
                assert cluster.state("b") == "paused"
                await trio.sleep(1.0)
                assert cluster.state("b") == "up"
            return schedule.log

    log = simulate(body, seed=1)
    assert [words for _, words in log] == ["paused b for 1 s", "resumed b after its 1 s pause"]


def test_fault_actions_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="nth"):
        faults.crash_after("a", "ping", nth=0)
    with pytest.raises(ValueError, match="way"):
        faults.slow_node("a", delay=0.1, way="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds"):
        faults.zombie("a", seconds=0)


def test_a_zombie_fired_by_hand_from_an_empty_schedule_wakes_by_itself() -> None:
    async def body() -> list[tuple[float, str]]:
        async with open_cluster(ECHOES, seed=1, placement="sim") as cluster:
            schedule = FaultSchedule(cluster, seed=1)
            async with schedule.running():
                await trio.sleep(0.1)
                await schedule.fire(faults.zombie("b", seconds=0.5))
                await trio.sleep(1.0)
                assert cluster.state("b") == "up"
            return schedule.log

    log = simulate(body, seed=1)
    assert [words for _, words in log] == ["paused b for 0.5 s", "resumed b after its 0.5 s pause"]
