"""Mutant: a read replica refuses a write without saying who the primary is.

Aimed at test_writes_go_to_the_primary_and_reach_every_replica. Clients must then guess.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    @handler("put")
    async def on_put(self, msg: Message) -> None:
        if not self.accepts_writes():
            self.reply(msg, {"type": "not_primary", "primary": None})
            return
        await super().on_put(msg)
