"""Mutant: a follower refuses a request for the lock without naming the leader it follows.

Aimed at test_the_leader_grants_the_lock_and_followers_redirect. Clients still find the leader,
by asking one replica after another; but every client that asks a follower first pays a round
of questions for nothing, and the README promises a name.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    @handler("acquire")
    async def on_acquire(self, msg: Message) -> None:
        if self.state != solution.LEADER:
            self.reply(msg, {"type": "not_leader"})  # "not me: ask someone else"
            return
        if not self.may_grant():
            self.reply(msg, {"type": "unavailable", "reason": self.why_not_granting()})
            return
        if self.lock.holder not in (None, msg.src) and not self.lease_ran_out():
            busy = {"type": "busy", "holder": self.lock.holder, "expires": self.lock.expires}
            self.reply(msg, busy)
            return
        self.lock = solution.Lock(holder=msg.src, expires=self.now() + self.config["lock_lease"])
        self.publish()
        self.reply(msg, {"type": "granted", "expires": self.lock.expires, "term": self.term})
