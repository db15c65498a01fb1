"""Mutant: anti-entropy takes the peer's versions of a key when they differ from ours.

Aimed at test_concurrent_writes_become_siblings. Copies from the primary (replicate) are merged
properly, so a single writer never notices; but when two sides wrote concurrently, each sync
replaces one side's write with the other's, and the replicas end up keeping one of them: the
other, acknowledged, is lost.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    @handler("sync")
    async def on_sync(self, msg: Message) -> None:
        for key, data in msg.body["store"].items():
            theirs = solution.siblings_from_json(data)
            mine = self.store.get(key, [])
            if any(self.descends(self.version_of(key), s.version) for s in theirs) and all(
                self.descends(s.version, self.version_of(key)) for s in theirs
            ):
                continue  # the same: nothing to do
            if mine and all(self.descends(self.version_of(key), s.version) for s in theirs):
                continue  # ours is newer
            self.store[key] = theirs  # "they are different: take theirs"
            self.save(key)
            if key == self.config["watch_key"]:
                self.publish()
