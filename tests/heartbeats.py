"""A 5-node heartbeat scenario in the simulator; prints its trace's digest.

``python tests/heartbeats.py SEED SECONDS`` — run by tests/test_sim.py in separate processes,
and by the benchmark.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nodes import Heartbeat

from distlab import ClusterSpec, NodeSpec, Trace, open_cluster, run_simulated
from distlab._faults import FaultState, LinkFaults

SPEC = ClusterSpec(tuple(NodeSpec(f"node-{i}", "node", Heartbeat) for i in range(1, 6)))
FAULTS = FaultState(LinkFaults(delay=0.01, jitter=0.008, drop=0.05, duplicate=0.02))


def run(seed: int, seconds: float) -> Trace:
    async def main() -> Trace:
        async with open_cluster(SPEC, seed=seed, placement="sim", faults=FAULTS) as cluster:
            await trio.sleep(seconds)
        return cluster.trace

    return run_simulated(main, seed=seed)


def digest(trace: Trace) -> str:
    return hashlib.sha256("".join(e.to_json() + "\n" for e in trace.events).encode()).hexdigest()


if __name__ == "__main__":
    print(digest(run(int(sys.argv[1]), float(sys.argv[2]))))
