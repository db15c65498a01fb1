"""Mutant: a replica named primary serves writes at once, with what it happens to have.

Aimed at test_a_new_primary_catches_up_before_it_writes. The operator names the first replica
alive, not the most up to date one. If it missed the last writes, its first write does not
descend from them: two acknowledged writes that are not ordered, with one primary at a time.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    async def take_over(self, epoch: int) -> None:
        if self.epoch == epoch and self.primary == self.id:
            self.serving = True  # no catching up
            self.publish()
