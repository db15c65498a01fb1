"""The TUI's model: what the screen shows, folded from trace events (no terminal needed)."""

from __future__ import annotations

import trio
from nodes import Echo, Pinger

from distlab import ClusterSpec, NodeSpec, open_cluster, run_simulated
from distlab._trace import TraceEvent
from distlab.tui._model import ClusterModel


def traced_run() -> list[TraceEvent]:
    spec = ClusterSpec(
        (
            NodeSpec("echo", "echo", Echo),
            NodeSpec("other", "echo", Echo),
            NodeSpec("pinger", "pinger", Pinger),
        )
    )

    async def main() -> list[TraceEvent]:
        async with open_cluster(spec, seed=4, placement="sim") as cluster:
            cluster.network.set_faults(drop=0.2, duplicate=0.2)
            await trio.sleep(0.5)
            cluster.network.isolate("echo")
            await trio.sleep(0.2)
            await cluster.pause("pinger")
            await trio.sleep(0.1)
            await cluster.resume("pinger")
            await cluster.crash("echo")
            await trio.sleep(0.1)
        return cluster.trace.events

    return run_simulated(main, seed=4)


def test_the_model_follows_nodes_messages_and_faults() -> None:
    events = traced_run()
    model = ClusterModel()
    for event in events:
        model.apply(event)
        if event.kind == "pause":
            assert model.nodes["pinger"].state == "paused"
        if event.kind == "fault" and "isolated" in event["change"]:
            assert model.shown_state("echo") == "cut off"
            assert model.shown_state("pinger") == "up"
    assert model.names == ["echo", "other", "pinger"]
    assert model.seed == 4 and model.placement == "sim"
    echo, pinger = model.nodes["echo"], model.nodes["pinger"]
    assert echo.state == "stopped" or echo.state == "crashed"
    assert echo.crashes == 1 and "on purpose" in echo.last_crash
    sends = [e for e in events if e.kind == "send"]
    assert pinger.sent == sum(e["src"] == "pinger" for e in sends)
    assert echo.received == sum(e.kind == "deliver" and e["dest"] == "echo" for e in events)
    assert pinger.status["pongs"] > 0
    for kind in ("send", "deliver", "drop", "lost", "duplicate"):
        assert model.totals[kind] == sum(e.kind == kind for e in events)
    fates = {line.fate for line in model.messages}
    assert {"delivered", "dropped"} <= fates
    assert any(line.copy == 1 for line in model.messages)
    assert model.faults.describe().startswith("drop 0.2, duplicate 0.2")
    assert model.now == events[-1].t and model.last_seq == events[-1].seq


def test_messages_per_second_counts_the_last_second_of_sends() -> None:
    model = ClusterModel()
    for i in range(30):
        model.apply(
            TraceEvent(
                i + 1,
                i * 0.1,
                "send",
                {
                    "src": "a",
                    "dest": "b",
                    "mid": f"a/1/{i}",
                    "body": {"type": "x"},
                },
            )
        )
    assert model.messages_per_second() in (10, 11)  # the sends of the last second


def test_the_rate_falls_when_the_cluster_goes_quiet() -> None:
    model = ClusterModel()
    model.apply(
        TraceEvent(
            1,
            1.0,
            "send",
            {
                "src": "a",
                "dest": "b",
                "mid": "a/1/1",
                "body": {"type": "x"},
            },
        )
    )
    assert model.messages_per_second() == 1
    model.advance(5.0)
    assert model.messages_per_second() == 0 and model.now == 5.0


def test_numbers_are_rounded_for_people_in_the_log_and_the_nodes_pane() -> None:
    from distlab._describe import for_people
    from distlab.tui.widgets._nodes import status_words

    assert for_people(4.997266037999998) == "4.997"
    assert for_people(0.1 + 0.2) == "0.3" and for_people(3.0) == "3"
    assert for_people(0.0001234) == "0.000123"
    assert for_people([1.23456, "a"]) == "[1.235, a]"
    assert for_people({"x": 2.5000001}) == "{x: 2.5}"
    assert for_people(7) == "7" and for_people(True) == "True"
    assert status_words({"expires": 4.997266037999998, "term": 3}) == "expires=4.997 term=3"


def test_lanes_and_labels_shorten_names_and_types_without_losing_what_tells_them_apart() -> None:
    import doctest

    import distlab.tui.widgets._spacetime as spacetime

    assert doctest.testmod(spacetime).failed == 0
    names = [f"replica-{i}" for i in range(1, 6)] + ["client-1", "client-2"]
    labels = [spacetime.short_name(name, 2) for name in names]
    assert labels == ["r1", "r2", "r3", "r4", "r5", "c1", "c2"]  # never "r r r r r c c"
    assert spacetime.short_type("heartbeat_ack", 10) == "heartb_ack"  # not "heartbeat_"


def test_lane_labels_take_two_rows_rather_than_lose_the_names() -> None:
    from itertools import pairwise

    from distlab.tui.widgets._spacetime import lane_labels, lane_positions

    names = [f"replica-{i}" for i in range(1, 6)] + ["client-1", "client-2"]

    def labels(width: int) -> tuple[list[str], set[int]]:
        placed = lane_labels(names, lane_positions(len(names), width), width)
        return [label for _, _, label in placed], {row for row, _, _ in placed}

    # Lanes three columns apart: one row of "r1".
    assert labels(21) == (["r1", "r2", "r3", "r4", "r5", "c1", "c2"], {0})
    # Two apart (7 nodes at 80 columns): "1 2 3 4 5 1 2" on one row; on two, the roles stay.
    assert labels(19) == (["re-1", "re-2", "re-3", "re-4", "re-5", "cl-1", "cl-2"], {0, 1})
    for width in (14, 19, 25, 40, 80):
        placed = lane_labels(names, lane_positions(len(names), width), width)
        for x, (_row, start, label) in zip(lane_positions(len(names), width), placed, strict=True):
            assert start <= x < start + len(label) <= width  # over its own lane
        for row in (0, 1):  # a space between two labels of a row
            spans = sorted((start, start + len(label)) for r, start, label in placed if r == row)
            assert all(end < next_start for (_, end), (next_start, _) in pairwise(spans))


def test_a_spawned_node_joins_and_a_terminated_one_leaves() -> None:
    spec = ClusterSpec((NodeSpec("echo", "echo", Echo),))

    async def main() -> list[TraceEvent]:
        async with open_cluster(spec, seed=4, placement="sim") as cluster:
            await cluster.spawn("echo-2", role="echo", node_class=Echo)
            await trio.sleep(0.1)
            await cluster.terminate("echo")
            await trio.sleep(0.1)
        return cluster.trace.events

    model = ClusterModel()
    seen = []
    for event in run_simulated(main, seed=4):
        model.apply(event)
        seen.append(sorted(model.nodes))
    assert ["echo", "echo-2"] in seen
    assert sorted(model.nodes) == ["echo-2"]
    assert model.nodes["echo-2"].state == "up"
