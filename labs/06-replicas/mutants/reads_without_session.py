"""Mutant: a replica answers every read with what it has, whatever the client has seen.

Aimed at test_a_client_reads_its_own_writes_from_any_replica. A replica that lags behind the
primary answers with an old value: the client does not see the write it was just told was
acknowledged.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    @handler("get")
    async def on_get(self, msg: Message) -> None:
        key = msg.body["key"]
        siblings = solution.siblings_to_json(self.store.get(key, []))
        body = {"type": "get_ok", "key": key, "siblings": siblings, "version": self.version_of(key)}
        self.reply(msg, body)  # never "behind"
