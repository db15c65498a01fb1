"""Mutant: a replica stores and confirms every copy, whatever its epoch.

Aimed at test_an_old_primary_cannot_collect_copies. A primary the operator replaced (cut off
from the operator, not from the replicas) still collects copies and acknowledges writes, while
the new primary does too: two primaries, two lines of writes that do not see each other.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    @handler("replicate")
    async def on_replicate(self, msg: Message) -> None:
        sibling = Sibling.from_json(msg.body["sibling"])
        self.keep(msg.body["key"], [sibling])
        self.reply(msg, {"type": "replicated", "key": msg.body["key"], "version": sibling.version})
