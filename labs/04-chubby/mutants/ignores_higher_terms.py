"""Mutant: a leader ignores any newer term it hears of; it goes on leading its own.

Aimed at test_one_leader_again_after_the_partition_heals. A replica cut off from the leader stood
for election in term after term; when the network heals, it refuses the leader's heartbeats (an
old term), and the leader ignores the newer term in its refusals: they never agree again.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def observe_term(self, term: int) -> None:
        if self.state == solution.LEADER:
            return  # "I am the leader": a newer term must be somebody's mistake
        super().observe_term(term)
