"""Mutant: a grant's ``expires`` says how many seconds the lease lasts, not when it runs out.

Aimed at test_the_leader_grants_the_lock_and_followers_redirect. The leader keeps the right
expiry for itself, so it frees the lock on time; but a client reads ``expires`` as a time on
the cluster's clock (the README says so), and believes its lease ran out long ago: or, once
the clock reads less than the lock_lease, that it holds the lock for longer than it does.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    @handler("acquire")
    async def on_acquire(self, msg: Message) -> None:
        if self.state != solution.LEADER:
            self.redirect(msg)
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
        lease = self.config["lock_lease"]  # "the client knows what time it is"
        self.reply(msg, {"type": "granted", "expires": lease, "term": self.term})
