"""(d) The simulator's speed: simulated seconds per wall-clock second.

Five nodes exchange heartbeats, each sending ten a second to a peer picked with its seeded RNG,
over a network with delay, jitter, drops and duplicates, for 60 simulated seconds. The goal is at
least 50 times faster than real time.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import trio

from distlab import ClusterSpec, Message, Node, NodeSpec, handler, open_cluster, run_simulated
from distlab._faults import FaultState, LinkFaults

SIM_GOAL = 50.0
SIM_SECONDS = 60.0
SIM_NODES = 5


class Heartbeat(Node):
    async def on_start(self) -> None:
        self.seen = 0
        self.every(0.1, self.beat)

    async def beat(self) -> None:
        peers = [n for n in self.node_ids if n != self.id]
        self.send(self.random.choice(peers), {"type": "heartbeat", "at": self.now()})

    @handler("heartbeat")
    async def on_heartbeat(self, msg: Message) -> None:
        self.seen += 1


@dataclass(frozen=True)
class SimResult:
    simulated_s: float
    wall_s: float
    events: int
    messages: int

    @property
    def speedup(self) -> float:
        return self.simulated_s / self.wall_s


#: The network the heartbeats cross: some delay and jitter, a few drops and duplicates.
HEARTBEAT_FAULTS = FaultState(LinkFaults(delay=0.01, jitter=0.008, drop=0.05, duplicate=0.02))


def heartbeat_spec(nodes: int = SIM_NODES) -> ClusterSpec:
    """``nodes`` Heartbeat nodes (also the scenario tests/test_sim.py replays across processes)."""
    return ClusterSpec(tuple(NodeSpec(f"node-{i}", "node", Heartbeat) for i in range(1, nodes + 1)))


def run_once(seed: int) -> SimResult:
    spec, faults = heartbeat_spec(), HEARTBEAT_FAULTS

    async def main() -> tuple[int, int]:
        async with open_cluster(spec, seed=seed, placement="sim", faults=faults) as cluster:
            await trio.sleep(SIM_SECONDS)
        return len(cluster.trace.events), cluster.trace.counts["send"]

    began = time.perf_counter()
    events, messages = run_simulated(main, seed=seed)
    return SimResult(SIM_SECONDS, time.perf_counter() - began, events, messages)


def measure(seed: int, reps: int) -> list[SimResult]:
    return [run_once(seed + rep) for rep in range(reps)]


def report(results: list[SimResult]) -> None:
    speedup = statistics.median(r.speedup for r in results)
    wall = statistics.median(r.wall_s for r in results)
    print(
        f"(d) simulator: {SIM_NODES} nodes, heartbeats at 10/s each, {SIM_SECONDS:g} s "
        "simulated, median of",
        len(results),
        "runs",
    )
    print(
        f"  wall time {wall:.2f} s; {results[0].messages:,} messages, "
        f"{results[0].events:,} trace events per run"
    )
    verdict = "MET" if speedup >= SIM_GOAL else "NOT MET"
    print(f"  simulated/wall time: {speedup:.0f}x real time  (goal >= {SIM_GOAL:g}x: {verdict})")
