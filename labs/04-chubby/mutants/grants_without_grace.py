"""Mutant: a new leader grants the lock at once, without waiting out its grace period.

Aimed at test_the_lock_is_safe_when_the_leader_crashes. A client that got the lock from the
crashed leader still holds it, until its lease runs out; the new leader, which cannot know that,
grants it to another client meanwhile.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def may_grant(self) -> bool:
        return self.holds_master_lease()  # no grace period
