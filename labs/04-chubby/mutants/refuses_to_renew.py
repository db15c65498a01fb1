"""Mutant: the leader answers ``busy`` to its own holder asking for more time.

Aimed at test_a_lease_runs_out_when_its_holder_goes_quiet. Every client gets the lock, one at a
time; but no holder can keep it past one lock_lease: a client with a long job loses the lock
in the middle of it, and learns so only from a ``busy`` that names itself.
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
        if self.lock.holder is not None and not self.lease_ran_out():  # its holder too
            busy = {"type": "busy", "holder": self.lock.holder, "expires": self.lock.expires}
            self.reply(msg, busy)
            return
        self.lock = solution.Lock(holder=msg.src, expires=self.now() + self.config["lock_lease"])
        self.publish()
        self.reply(msg, {"type": "granted", "expires": self.lock.expires, "term": self.term})
