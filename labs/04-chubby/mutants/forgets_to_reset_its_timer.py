"""Mutant: a follower does not reset its election timer when a heartbeat arrives.

Aimed at test_one_leader_is_elected. The first election works; but every follower's timer runs
out soon after, however many heartbeats it heard, and it stands against a leader that is alive
and well: leadership changes hands again and again on a network that loses nothing.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    @handler("heartbeat")
    async def on_heartbeat(self, msg: Message) -> None:
        term: int = msg.body["term"]
        answer = {"type": "heartbeat_reply", "round": msg.body["round"]}
        if term < self.term:
            self.reply(msg, {**answer, "term": self.term, "ok": False})
            return
        self.observe_term(term)
        self.last_heard = self.now()
        # (no reset_election_timer(): the timer set at the last election runs on)
        if self.state != solution.FOLLOWER or self.leader != msg.src:
            self.become_follower(leader=msg.src)
        self.reply(msg, {**answer, "term": self.term, "ok": True})
