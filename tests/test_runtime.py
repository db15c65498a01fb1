"""The live runtime, in both placements: crashes, restarts, pauses, spawns, bad frames, fates."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import pytest
import trio
from nodes import Chatty, Dier, Echo, Fragile, Keeper, Misbehaver, Pinger, Poker

from distlab import ClusterSpec, Node, NodeSpec, open_cluster, run_simulated
from distlab._cluster import Cluster, Placement
from distlab._errors import ConfigError
from distlab._faults import FaultState, LinkFaults
from distlab._storage import read_stored
from distlab.grading import check_message_fates

PLACEMENTS: list[Placement] = ["inprocess", "processes"]
WAIT = 15  # seconds: a generous bound on waits for events that normally take milliseconds


def spec(*nodes: tuple[str, type[Node]], **config: Any) -> ClusterSpec:
    return ClusterSpec(tuple(NodeSpec(name, name, cls) for name, cls in nodes), config)


async def wait_status(
    cluster: Cluster, node: str, predicate: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    with trio.fail_after(WAIT):
        return await cluster.wait_for_status(node, predicate)


async def wait_until(cluster: Cluster, predicate: Callable[[], bool]) -> None:
    with trio.fail_after(WAIT):
        await cluster.wait_until(predicate)


def kinds(cluster: Cluster, kind: str, **match: Any) -> list[Any]:
    return [
        e
        for e in cluster.trace.events
        if e.kind == kind and all(e.get(k) == v for k, v in match.items())
    ]


@pytest.fixture(params=PLACEMENTS)
def placement(request: pytest.FixtureRequest) -> Placement:
    return request.param  # type: ignore[no-any-return]


async def test_ping_pong_in_every_placement(placement: Placement) -> None:
    async with open_cluster(
        spec(("echo", Echo), ("pinger", Pinger)), seed=1, placement=placement
    ) as cluster:
        status = await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= 10)
        assert status["pongs"] >= 10
        assert cluster.state("echo") == "up"
    starts = kinds(cluster, "start")
    assert {e["node"] for e in starts} == {"echo", "pinger"}
    if placement != "sim":  # simulated nodes have no socket
        assert all(e["port"] > 0 for e in starts)


async def test_a_raising_handler_crashes_only_its_node(placement: Placement) -> None:
    nodes = spec(("fragile", Fragile), ("echo", Echo), ("pinger", Pinger), ("poker", Poker))
    async with open_cluster(nodes, seed=2, placement=placement) as cluster:
        await wait_until(cluster, lambda: cluster.state("fragile") == "crashed")
        before = cluster.status_of("pinger").get("pongs", 0)
        await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= before + 5)
        assert [cluster.state(n) for n in ("echo", "pinger", "poker")] == ["up"] * 3
    [crash] = kinds(cluster, "crash", node="fragile")
    assert crash["reason"] == (
        "IndexError in on_ping (a 'ping' from poker): list index out of range"
    )
    assert "numbers[10]" in crash["traceback"]
    assert "nodes.py" in crash["traceback"]
    assert "_runner.py" not in crash["traceback"]  # only the student's frames


async def test_crash_and_restart_keep_storage_and_lose_memory(placement: Placement) -> None:
    async with open_cluster(spec(("keeper", Keeper)), seed=3, placement=placement) as cluster:
        await wait_status(cluster, "keeper", lambda s: s.get("ticks", 0) >= 5)
        await cluster.crash("keeper")
        assert cluster.state("keeper") == "crashed"
        await cluster.restart("keeper")
        assert cluster.state("keeper") == "up"
        first = await wait_status(cluster, "keeper", lambda s: "boots" in s)
        assert first["boots"] == 2  # the storage survived the crash
        assert first["ticks"] < 5  # the in-memory counter started again from zero
        await wait_status(cluster, "keeper", lambda s: s.get("ticks", 0) >= 3)
        await cluster.restart("keeper")  # restarting a running node crashes it first
        third = await wait_status(cluster, "keeper", lambda s: "boots" in s)
        assert third["boots"] == 3
    crashes = kinds(cluster, "crash", node="keeper")
    assert [e["incarnation"] for e in crashes] == [1, 2]
    # Its timers died with it: nothing from the keeper between a crash and the next restart.
    restarts = kinds(cluster, "restart", node="keeper")
    for crash, restart in zip(crashes, restarts, strict=True):
        between = [e for e in cluster.trace.events if crash.seq < e.seq < restart.seq]
        assert not [e for e in between if e.get("node") == "keeper"], between
    assert [e["incarnation"] for e in kinds(cluster, "restart", node="keeper")] == [2, 3]


async def test_pause_stops_a_node_and_resume_lets_it_catch_up(placement: Placement) -> None:
    nodes = spec(("keeper", Keeper), ("echo", Echo), ("pinger", Pinger))
    async with open_cluster(nodes, seed=4, placement=placement) as cluster:
        await wait_status(cluster, "keeper", lambda s: s.get("ticks", 0) >= 3)
        await cluster.pause("keeper")
        await cluster.pause("echo")
        assert cluster.state("keeper") == "paused"
        timeouts = cluster.status_of("pinger").get("timeouts", 0)
        # While they are paused, the pinger's pings to echo go unanswered...
        await wait_status(cluster, "pinger", lambda s: s.get("timeouts", 0) >= timeouts + 3)
        # ...and the keeper does not tick. (Measured from here: a node process's last events
        # from before its SIGSTOP may still have been in its pipe when pause() returned.)
        frozen = cluster.status_of("keeper")["ticks"]
        await wait_status(cluster, "pinger", lambda s: s.get("timeouts", 0) >= timeouts + 6)
        assert cluster.status_of("keeper")["ticks"] == frozen
        await cluster.resume("keeper")
        await cluster.resume("echo")
        await wait_status(cluster, "keeper", lambda s: s.get("ticks", 0) >= frozen + 3)
        pongs = cluster.status_of("pinger").get("pongs", 0)
        await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= pongs + 3)
    assert len(kinds(cluster, "pause")) == 2
    assert len(kinds(cluster, "resume")) == 2


async def test_settle_brings_every_nodes_earlier_events_into_the_trace(
    placement: Placement,
) -> None:
    """After settle(), what a node saw is explained by the trace: echo counted N pings, so the
    pinger's process (not echo's) had recorded at least N ping deliveries. Without settle, in
    the processes placement, those can still be in the pinger's pipe."""
    async with open_cluster(
        spec(("echo", Echo), ("pinger", Pinger)), seed=1, placement=placement
    ) as cluster:
        for round_ in range(1, 21):
            await wait_status(cluster, "echo", lambda s, n=round_: s.get("pings", 0) >= 3 * n)
            counted = cluster.status_of("echo")["pings"]
            await cluster.settle()
            delivered = [
                e for e in kinds(cluster, "deliver", dest="echo") if e.get("type") == "ping"
            ]
            assert len(delivered) >= counted, f"round {round_}"


async def test_spawn_adds_a_node_that_others_can_reach(placement: Placement) -> None:
    async with open_cluster(
        spec(("echo", Echo)),
        seed=5,
        placement=placement,
    ) as cluster:
        await cluster.spawn("pinger", role="pinger", node_class=Pinger)
        assert cluster.names == ["echo", "pinger"]
        await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= 3)
    [spawned] = kinds(cluster, "spawn")
    assert spawned["node"] == "pinger"


@pytest.mark.parametrize("where", [*PLACEMENTS, "sim"])
def test_terminate_removes_a_node_for_good(where: Placement) -> None:
    """A scaled-in instance: it stops, its storage goes, what is sent to it is lost (not an
    error of its sender's), and it never comes back under that name."""

    async def scenario() -> Cluster:
        nodes = spec(("echo", Echo), ("pinger", Pinger), ("keeper", Keeper), target="echo")
        async with open_cluster(nodes, seed=6, placement=where) as cluster:
            await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= 3)
            await wait_status(cluster, "keeper", lambda s: s.get("boots") == 1)
            kept = cluster.storage_dir / "keeper.json"
            assert read_stored(kept, files=cluster.storage_files) is not None
            await cluster.terminate("echo")
            await cluster.terminate("keeper")
            assert read_stored(kept, files=cluster.storage_files) is None
            assert cluster.state("echo") == cluster.state("keeper") == "terminated"
            timeouts = cluster.status_of("pinger").get("timeouts", 0)
            await wait_status(cluster, "pinger", lambda s: s.get("timeouts", 0) >= timeouts + 2)
            await cluster.terminate("echo")  # again: nothing to do
            await cluster.crash("echo")  # nothing to crash
            with pytest.raises(ConfigError, match="cannot restart echo: it was terminated"):
                await cluster.restart("echo")
            with pytest.raises(ConfigError, match="already exists"):
                await cluster.spawn("echo", role="echo", node_class=Echo)
        return cluster

    cluster = run_simulated(scenario, seed=6) if where == "sim" else trio.run(scenario)
    assert [e["node"] for e in kinds(cluster, "terminate")] == ["echo", "keeper"]
    # Judged by time, not by trace order: with a process per node, the sender's events reach
    # the trace through its own pipe, and may land after the terminate event they preceded.
    ended = next(e.t for e in cluster.trace.events if e.kind == "terminate")
    later = {
        e["mid"]
        for e in cluster.trace.events
        if e.kind == "send" and e["dest"] == "echo" and e.t > ended + 0.01
    }
    fates = {e.kind for e in cluster.trace.events if e.get("mid") in later and e.kind != "send"}
    assert later and fates == {"lost"}
    assert not [e for e in cluster.trace.events if e.kind == "frame_error"]


async def test_partition_and_heal(placement: Placement = "inprocess") -> None:
    nodes = spec(("echo", Echo), ("pinger", Pinger))
    async with open_cluster(nodes, seed=6, placement=placement) as cluster:
        await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= 2)
        cluster.network.isolate("echo")
        timeouts = cluster.status_of("pinger").get("timeouts", 0)
        await wait_status(cluster, "pinger", lambda s: s.get("timeouts", 0) >= timeouts + 3)
        pongs = cluster.status_of("pinger")["pongs"]
        await wait_status(cluster, "pinger", lambda s: s.get("timeouts", 0) >= timeouts + 6)
        assert cluster.status_of("pinger")["pongs"] <= pongs + 1  # one may have been in flight
        cluster.network.heal()
        await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= pongs + 3)
    drops = kinds(cluster, "drop")
    assert drops and all("partition (echo isolated)" in e["reason"] for e in drops)
    assert [e["change"] for e in kinds(cluster, "fault")] == [
        "partition: echo isolated",
        "heal all partitions",
    ]


async def test_one_way_block_cuts_one_direction_only() -> None:
    nodes = spec(("echo", Echo), ("pinger", Pinger))
    async with open_cluster(nodes, seed=7) as cluster:
        cluster.network.block("echo", "pinger")  # pings arrive, pongs do not
        await wait_status(cluster, "pinger", lambda s: s.get("timeouts", 0) >= 3)
        assert cluster.status_of("echo")["pings"] >= 3
        assert cluster.status_of("pinger")["pongs"] == 0


def _frame(payload: bytes, length: int | None = None) -> bytes:
    return struct.pack(">I", len(payload) if length is None else length) + payload


async def test_bad_frames_are_reported_and_the_node_keeps_serving(placement: Placement) -> None:
    nodes = spec(("echo", Echo), ("pinger", Pinger))
    async with open_cluster(nodes, seed=8, placement=placement) as cluster:
        port = cluster.roster["echo"].port
        assert port is not None
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(
            _frame(b"this is not json")
            + _frame(b"[1, 2]")
            + _frame(json.dumps({"src": "x", "dest": "ghost", "body": {"type": "a"}}).encode())
        )
        await wait_until(cluster, lambda: len(kinds(cluster, "frame_error", node="echo")) == 3)
        await stream.send_all(_frame(b"", length=2 * 1024 * 1024))  # a huge frame announced
        with trio.fail_after(WAIT):
            assert await stream.receive_some(10) == b""  # the node closed this connection
        pongs = cluster.status_of("pinger").get("pongs", 0)
        await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= pongs + 3)
        assert cluster.state("echo") == "up"
    reasons = [e["reason"] for e in kinds(cluster, "frame_error", node="echo")]
    assert "is not JSON" in reasons[0]
    assert "not an envelope" in reasons[1]
    assert "names destination 'ghost' (a node it does not know)" in reasons[2]
    assert "2.0 MiB exceeds the 1.0 MiB limit" in reasons[3]


async def test_unknown_destination_and_oversized_messages_are_rejected_at_the_sender(
    placement: Placement,
) -> None:
    nodes = spec(("echo", Echo), ("misbehaver", Misbehaver))
    async with open_cluster(nodes, seed=9, placement=placement) as cluster:
        await wait_status(cluster, "misbehaver", lambda s: s.get("ok") is True)
        assert cluster.state("misbehaver") == "up"
    reasons = [e["reason"] for e in kinds(cluster, "frame_error", node="misbehaver")]
    assert reasons[0].startswith("message to unknown node 'nobody' rejected")
    assert "over the 1.0 MiB frame limit; not sent" in reasons[1]


async def test_a_process_that_dies_on_its_own_is_reported_with_code_and_output() -> None:
    nodes = spec(("dier", Dier), ("pinger", Pinger))
    nodes = ClusterSpec(nodes.nodes, {"target": "dier"})
    async with open_cluster(nodes, seed=10, placement="processes") as cluster:
        await wait_until(cluster, lambda: cluster.state("dier") == "crashed")
        assert cluster.state("pinger") == "up"
    [crash] = kinds(cluster, "crash", node="dier")
    assert crash["reason"] == "the node's process exited with code 3"
    assert crash["exit_code"] == 3
    assert "dier: about to exit with code 3" in crash["output_tail"]


async def test_every_message_has_exactly_one_fate(placement: Placement) -> None:
    faults = FaultState(
        LinkFaults(
            delay=0.002, jitter=0.002, drop=0.1, duplicate=0.2, reorder=0.1, reorder_delay=0.004
        )
    )
    names = [f"chatty-{i}" for i in range(4)]
    nodes = ClusterSpec(tuple(NodeSpec(n, "chatty", Chatty) for n in names))
    async with open_cluster(nodes, seed=11, placement=placement, faults=faults) as cluster:
        await wait_status(cluster, "chatty-0", lambda s: s.get("received", 0) >= 20)
        await cluster.crash("chatty-1")  # messages to it are lost; its own in-flight too
        await wait_status(cluster, "chatty-0", lambda s: s.get("received", 0) >= 40)
        await cluster.restart("chatty-1")
        await cluster.pause("chatty-2")
        await wait_status(cluster, "chatty-0", lambda s: s.get("received", 0) >= 60)
    # Nothing left in flight: the end of the run accounted for every message.
    assert check_message_fates(cluster.trace.events) == []
    assert len(kinds(cluster, "send")) > 100
    for kind in ("deliver", "drop", "lost", "duplicate"):
        assert kinds(cluster, kind), f"no {kind} event: the test did not exercise it"
    assert any(e["copy"] == 1 for e in kinds(cluster, "deliver"))
    lost_reasons = {e["reason"] for e in kinds(cluster, "lost")}
    assert any("chatty-1 was down" in r for r in lost_reasons), lost_reasons


async def test_delays_hold_messages_back_by_the_drawn_amount(
    placement: Placement = "inprocess",
) -> None:
    faults = FaultState(LinkFaults(delay=0.02, jitter=0.01))
    async with open_cluster(
        spec(("echo", Echo), ("pinger", Pinger)), seed=12, faults=faults, placement=placement
    ) as cluster:
        await wait_status(cluster, "pinger", lambda s: s.get("pongs", 0) >= 10)
    sent_at = {e["mid"]: e.t for e in kinds(cluster, "send")}
    delivers = kinds(cluster, "deliver")
    assert len(delivers) >= 20
    for e in delivers:
        assert 0.01 <= e["delay"] <= 0.03
        assert e.t - sent_at[e["mid"]] >= e["delay"] - 0.001  # never delivered early
    assert len({e["delay"] for e in delivers}) > 10  # jitter: the delays differ
