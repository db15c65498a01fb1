"""Mutant: the master puts the whole sequence in the first share; the other workers idle.

Aimed at test_shares_are_fair. The sums are still exact.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    @staticmethod
    def split(numbers: list[int], k: int) -> list[list[int]]:
        return [list(numbers)] + [[] for _ in range(k - 1)]
