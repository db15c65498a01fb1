"""Mutant: the primary acknowledges a write as soon as it stored it itself.

Aimed at test_no_acknowledged_write_is_lost_when_the_primary_crashes. It still copies the write
to the replicas, but answers put_ok before any has stored it. A primary cut off from its
replicas then acknowledges writes that only it has; when it crashes for good, they are gone.
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
            self.reply(msg, {"type": "not_primary", "primary": self.primary})
            return
        key = msg.body["key"]
        sibling = Sibling(msg.body["value"], self.new_version(key, msg.body.get("context") or {}))
        self.keep(key, [sibling])
        self.reply(msg, {"type": "put_ok", "key": key, "version": sibling.version})  # too soon
        await self.replicate(key, sibling)
