"""Mutant: the leader looks for the releasing client in the wrong place, so a release frees
nothing, and is answered ``released`` all the same.

Aimed at test_the_leader_grants_the_lock_and_followers_redirect. The holder is told its lock
is free and goes; the next client is refused (``busy``, naming the client that gave the lock
back) until the lease runs out. No two clients ever hold the lock at once: only what the
clients were told shows it (a refusal while nobody held the lock is an answer no lock could
have given).
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    @handler("release")
    async def on_release(self, msg: Message) -> None:
        if self.state != solution.LEADER:
            self.redirect(msg)
            return
        if self.lock.holder == msg.body.get("client"):  # the sender is msg.src, not in the body
            self.lock = solution.Lock()
            self.publish()
        self.reply(msg, {"type": "released"})
