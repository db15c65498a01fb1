"""Mutant: a replica stores its term only with a vote; a newer term it merely hears of (from a
heartbeat, a refusal, a request it does not grant) it keeps in memory only.

Aimed at test_a_replica_crashed_right_after_it_answers_keeps_its_term_and_vote. Without crashes it
is correct. A replica that restarts goes back to the last term it voted in: it may then
acknowledge the heartbeats of a leader that it had already seen replaced, and lend it a master
lease it must not have.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def observe_term(self, term: int) -> None:
        if term > self.term:
            self.term, self.voted_for = term, None  # in memory only: "no vote to keep"
            self.become_follower(leader=None)
