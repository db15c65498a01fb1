"""Mutant: a replica votes for every candidate that asks, even twice in one term.

Aimed at test_at_most_one_leader_per_term. With one candidate at a time it looks correct; when two
candidates stand in the same term, both can collect a majority.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def may_vote_for(self, candidate: str) -> bool:
        return True  # "why not?": no memory of an earlier vote in this term
