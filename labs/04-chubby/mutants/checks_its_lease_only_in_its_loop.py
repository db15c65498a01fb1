"""Mutant: the leader grants whenever it is leader and its grace period is over; it counts on
its heartbeat loop to step it down as soon as its master lease lapses.

Aimed at test_a_leader_that_wakes_up_from_a_pause_grants_nothing. While the leader runs, its
loop notices a lapsed lease within one heartbeat interval, before any promise runs out. But a
leader that was paused (a long garbage collection, a stopped VM) wakes with a pile of messages
and its loop's timer due together: if it answers a held request for the lock first, it grants
it long after a new leader was elected, and granted it to someone else.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def may_grant(self) -> bool:
        grace_over = self.now() >= self.leading_since + self.config["lock_lease"]
        return grace_over  # "the loop steps me down when my lease lapses"
