"""Mutant: a follower answers every request for its vote, even while it hears a leader: it
makes no promise (``hears_a_leader`` is true of the leader only, as Part A's stub had it).

Aimed at test_a_replica_cut_off_from_the_leader_alone_gets_no_votes. A replica that cannot hear
the leader (one link down) stands for election in a newer term, and the others, who hear the
leader perfectly well, vote for it: a new leader is elected while the old one still holds its
master lease, and grants the lock before it learns of the new term.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def hears_a_leader(self) -> bool:
        return self.state == solution.LEADER  # no promise: a follower votes whenever asked
