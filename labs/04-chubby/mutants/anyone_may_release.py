"""Mutant: the leader frees the lock on any release, whoever sends it.

Aimed at test_a_release_by_a_client_that_does_not_hold_the_lock_frees_nothing. Clients that
release only what they hold never notice. But a client whose lease ran out while its release
was on its way (or a confused one) frees the lock under the next holder, and a third client is
granted it while that holder still has it.
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
        self.lock = solution.Lock()  # no check that the sender holds it
        self.publish()
        self.reply(msg, {"type": "released"})
