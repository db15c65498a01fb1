"""Mutant: a replica keeps its term and vote in memory only; a restart starts it from term 0.

Aimed at test_a_restarted_replica_keeps_its_term_and_vote. Without restarts it is correct; a
restarted replica may vote again in a term where it has already voted.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def recall_term_and_vote(self) -> tuple[int, str | None]:
        return 0, None  # nothing read back from storage
