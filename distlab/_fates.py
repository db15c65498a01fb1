"""Follows every message copy from its send to its one fate (delivered, dropped or lost).

Used while a run is live (to account for messages that were in flight in a node process that
died) and afterwards, to check the trace's central invariant.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._trace import DUPLICATE, FATES, SEND, TraceEvent


class FateLedger:
    def __init__(self) -> None:
        self.pending: dict[tuple[str, int], TraceEvent] = {}
        self.problems: list[str] = []
        self.resolved = 0

    def observe(self, event: TraceEvent) -> None:
        kind = event.kind
        if kind in (SEND, DUPLICATE):
            key = (event["mid"], event.get("copy", 0))
            if key in self.pending:
                self.problems.append(
                    f"message {key[0]} copy {key[1]} was sent twice (seq {event.seq})"
                )
            self.pending[key] = event
        elif kind in FATES:
            key = (event["mid"], event.get("copy", 0))
            if self.pending.pop(key, None) is None:
                self.problems.append(
                    f"message {key[0]} copy {key[1]} got a second fate or had no send: "
                    f"{kind} at seq {event.seq}"
                )
            else:
                self.resolved += 1

    def observe_all(self, events: Iterable[TraceEvent]) -> FateLedger:
        for event in events:
            self.observe(event)
        return self

    def pending_from(self, node: str) -> list[TraceEvent]:
        return [e for e in self.pending.values() if e["src"] == node]
