"""The TUI's model: what the screen shows, folded from trace events (no terminal needed)."""

from __future__ import annotations

from typing import Any

import trio
from nodes import Echo, Pinger

from distlab import ClusterSpec, NodeSpec, open_cluster, run_simulated
from distlab._labs import ChartSpec, PartSpec
from distlab._trace import CRASH, RUN_START, SPAWN, START, STATUS, TERMINATE, TraceEvent
from distlab.tui._model import TERMINATED_SHOWN, ClusterModel
from distlab.tui.widgets._nodes import state_cell


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


# -- a lab's parts and chart (lab.toml [tui.parts], [tui.chart]) ---------------------------------

FLEET_PARTS = (
    PartSpec("booting", "cloud", "booting"),
    PartSpec("in service", "lb", "in_service"),
    PartSpec("draining", "lb", "draining"),
)
FLEET_CHART = ChartSpec("instances", "cloud", "instances")


class Fleet:
    """Hand-made trace events of an autoscaled fleet: an lb, a cloud, instances."""

    def __init__(self) -> None:
        self.model = ClusterModel(parts=FLEET_PARTS, chart=FLEET_CHART)
        self.seq = 0
        faults: dict[str, Any] = {"default": {}, "overrides": [], "cuts": []}
        nodes = {"lb": "lb", "cloud": "cloud", "instance-1": "instance"}
        self.apply(0.0, RUN_START, nodes=nodes, config={}, faults=faults, summary="")
        for name, role in nodes.items():
            self.apply(0.0, START, node=name, role=role, incarnation=1)

    def apply(self, t: float, kind: str, **fields: Any) -> None:
        self.seq += 1
        self.model.apply(TraceEvent(self.seq, t, kind, fields))

    def status(self, t: float, node: str, **fields: Any) -> None:
        self.apply(t, STATUS, node=node, fields=fields)

    def rows(self) -> dict[str, str]:
        """Each row of the nodes table: its state, and its part if it has one."""
        parts = self.model.parts
        return {
            node.name: state_cell(self.model.shown_state(node.name), parts.get(node.name)).plain
            for node in self.model.rows()
        }


def test_parts_come_from_the_nodes_that_decide_them_and_the_first_match_wins() -> None:
    fleet = Fleet()
    assert fleet.rows() == {"lb": "up", "cloud": "up", "instance-1": "up"}
    fleet.status(0.1, "lb", in_service=["instance-1"], draining=[])
    fleet.status(0.2, "cloud", booting=["instance-2"], instances=["instance-1", "instance-2"])
    assert fleet.model.parts == {"instance-2": "booting", "instance-1": "in service"}
    # instance-2 is no node yet: a row all the same, its state its part.
    assert fleet.rows() == {
        "lb": "up",
        "cloud": "up",
        "instance-1": "up · in service",
        "instance-2": "booting",
    }
    assert "instance-2" not in fleet.model.nodes  # no lane: nothing can be sent to it yet
    fleet.apply(1.2, SPAWN, node="instance-2", role="instance")
    fleet.apply(1.2, START, node="instance-2", role="instance", incarnation=1)
    assert fleet.rows()["instance-2"] == "up · booting"  # the cloud has not said it is up
    # Listed as booting and in service: the first part of lab.toml's order wins.
    fleet.status(1.3, "lb", in_service=["instance-1", "instance-2"])
    assert fleet.model.parts["instance-2"] == "booting"
    fleet.status(1.3, "cloud", booting=[])
    assert fleet.rows()["instance-2"] == "up · in service"
    # The latest status counts: the lb drains instance-1.
    fleet.status(2.0, "lb", in_service=["instance-2"], draining=["instance-1"])
    assert fleet.rows()["instance-1"] == "up · draining"
    fleet.apply(2.1, CRASH, node="instance-1", reason="boom")
    assert fleet.rows()["instance-1"] == "crashed · draining"


def test_a_terminated_node_stays_a_moment_and_while_a_part_lists_it() -> None:
    fleet = Fleet()
    fleet.status(0.1, "lb", in_service=[], draining=["instance-1"])
    fleet.status(0.1, "cloud", booting=[], instances=["instance-1"])
    fleet.apply(1.0, TERMINATE, node="instance-1", incarnation=1)
    assert "instance-1" not in fleet.model.nodes  # its lane goes at once
    assert fleet.rows()["instance-1"] == "terminated · draining"  # the lb still drains it
    fleet.model.advance(1.0 + TERMINATED_SHOWN + 5)
    assert fleet.rows()["instance-1"] == "terminated · draining"
    fleet.status(8.1, "lb", draining=[])
    assert "instance-1" not in fleet.rows()  # long gone, and listed by no part
    # A part that lists a terminated name shows it terminated, never as a node to come ...
    fleet.status(8.2, "cloud", booting=["instance-1"])
    assert fleet.rows()["instance-1"] == "terminated · booting"
    # ... unless it is launched again.
    fleet.apply(8.3, SPAWN, node="instance-1", role="instance")
    assert fleet.rows()["instance-1"] == "starting · booting"


def test_a_terminated_node_leaves_the_table_after_a_moment() -> None:
    fleet = Fleet()
    fleet.apply(1.0, TERMINATE, node="instance-1", incarnation=1)
    assert fleet.rows()["instance-1"] == "terminated"
    assert fleet.model.rows()[-1].role == "instance"  # its role and counters are kept
    fleet.model.advance(1.0 + TERMINATED_SHOWN / 2)
    assert "instance-1" in fleet.rows()
    fleet.model.advance(1.0 + TERMINATED_SHOWN + 0.1)
    assert list(fleet.rows()) == ["lb", "cloud"]


def test_without_parts_a_model_shows_only_its_nodes() -> None:
    model = ClusterModel()
    model.apply(TraceEvent(1, 0.0, STATUS, {"node": "lb", "fields": {"in_service": ["x"]}}))
    assert model.parts == {} and [node.name for node in model.rows()] == ["lb"]
    assert model.series == [] and model.chart_value() is None
    model.advance(10.0)
    assert model.series == []  # no chart, no samples


def test_the_chart_samples_its_count_every_half_second_of_the_run() -> None:
    fleet = Fleet()
    model = fleet.model
    assert model.chart_value() is None  # the cloud has published nothing yet
    fleet.status(0.0, "cloud", instances=["instance-1", "instance-2"])
    fleet.status(1.2, "cloud", instances=["instance-1", "instance-2", "instance-3"])
    assert model.series == [2, 2, 2]  # at t = 0, 0.5, 1.0: before the change at 1.2
    model.advance(2.0)
    assert model.series == [2, 2, 2, 3]  # 1.5; the sample at 2.0 once time is past it
    assert model.chart_value() == 3  # the count now, between samples
    fleet.status(2.7, "cloud", instances=["instance-3"])
    assert model.series == [2, 2, 2, 3, 3, 3] and model.chart_value() == 1
    assert model.series == [2, 2, 2, 3, 3, 3]


def test_the_chart_counts_a_list_or_takes_a_number() -> None:
    model = ClusterModel(chart=ChartSpec("load", "metrics", "load"))
    values = [None, 1.5, True, "high", {"a": 1, "b": 2}, 4]
    for seq, value in enumerate(values, start=1):
        model.apply(
            TraceEvent(seq, seq * 0.5, STATUS, {"node": "metrics", "fields": {"load": value}})
        )
    model.advance(3.1)
    # t = 0 (nothing yet), then each value at t = 0.5 k, sampled from the next step on.
    assert model.series == [None, None, 1.5, None, None, 2, 4]
