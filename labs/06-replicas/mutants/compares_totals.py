"""Mutant: a version descends from another if its entries add up to at least as much.

Aimed at test_concurrent_writes_become_siblings. Comparing vectors as one number (their total,
like a single counter or a Lamport clock) works while one replica writes: each write adds one.
Two replicas that wrote concurrently get versions that this order ranks anyway, and the
"older" one is dropped, acknowledged though it was.
"""

from pathlib import Path
from typing import Any

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def descends(self, a: Any, b: Any) -> bool:
        def rank(version: Any) -> tuple[int, list[tuple[str, int]]]:
            return sum(version.values()), sorted(version.items())

        return rank(a) >= rank(b)
