"""Mutant: a leader believes it leads as long as nobody tells it otherwise: no master lease.

Aimed at test_the_lock_is_safe_when_the_old_leader_is_cut_off. Cut off in a minority, the old
leader never hears of the new one, never steps down, and goes on granting the lock to the clients
on its side, while the new leader grants it to the clients on the other side.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def holds_master_lease(self) -> bool:
        return True  # no need to hear from a majority
