"""Mutant: half the replicas (2 of 5) count as a majority.

Aimed at test_a_minority_never_elects_a_leader. On a whole network it elects a leader as usual; cut
off with one other replica, a replica wins an election, and an old leader keeps its lease.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def majority(self) -> int:
        return len(self.nodes_with_role("replica")) // 2  # 2 of 5: two "majorities" may not meet
