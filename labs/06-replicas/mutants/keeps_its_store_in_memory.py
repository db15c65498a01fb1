"""Mutant: a replica keeps its store in memory only.

Aimed at test_a_restarted_replica_keeps_what_it_stored. One replica at a time may crash and
get everything back from the others by anti-entropy; when all crash at once, every acknowledged
write is gone.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    def recall_store(self) -> dict[str, list[Any]]:
        return {}

    def save(self, key: str) -> None:
        pass  # "it is in self.store already"
