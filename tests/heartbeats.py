"""A 5-node heartbeat scenario in the simulator; prints its trace's digest.

``python tests/heartbeats.py SEED SECONDS`` — run by tests/test_sim.py in separate processes.
The scenario is the benchmark's (bench/sim.py).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too
from bench.sim import HEARTBEAT_FAULTS, heartbeat_spec
from distlab import Trace, open_cluster, run_simulated

SPEC = heartbeat_spec()  # the benchmark's scenario: 5 nodes, heartbeats at 10/s each
FAULTS = HEARTBEAT_FAULTS


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
