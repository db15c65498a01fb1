"""Mutant: the leader counts its master lease from when a majority's acknowledgements arrive,
not from when it sent the heartbeat round they acknowledge.

Aimed at test_the_lock_is_safe_when_the_leader_hears_its_followers_late. A follower's promise
runs from when it received the round; on a quick network the acknowledgements come back at once
and the two clocks agree. When they come back late, the lease outlasts the promises: the other
replicas elect a new leader while the old one still believes it may grant the lock.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    @handler("heartbeat_reply")
    async def on_heartbeat_reply(self, msg: Message) -> None:
        term: int = msg.body["term"]
        if term > self.term:
            self.observe_term(term)
            return
        if self.state != solution.LEADER or term != self.term or not msg.body["ok"]:
            return
        acked = self.rounds.get(msg.body["round"])
        if acked is None:
            return
        acked.acked_by.add(msg.src)
        if len(acked.acked_by) >= self.majority():
            # from now, when the majority answered: but their promises started earlier
            self.lease_until = max(self.lease_until, self.now() + self.lease_length)
