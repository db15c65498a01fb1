"""Mutant: of two versions neither of which descends from the other, keep the later-written one.

Aimed at test_concurrent_writes_become_siblings. "Last writer wins" by timestamp looks tidy: one
value per key, no siblings. But each side of the partition acknowledged its write; the one with
the earlier timestamp is silently thrown away when the replicas merge: an acknowledged write is
lost.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    def merged(self, mine: list[Any], theirs: list[Any]) -> list[Any]:
        kept = super().merged(mine, theirs)
        if len(kept) <= 1:
            return kept
        return [max(kept, key=lambda s: (s.written_at, str(s.value)))]  # the latest wins
