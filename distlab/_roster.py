"""Who is in the cluster: each node's role, state, incarnation and port.

The supervisor owns the roster; node processes keep a mirror of it, updated by the supervisor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeAlias

NodeState: TypeAlias = Literal["starting", "up", "paused", "crashed", "stopped", "terminated"]
DOWN_STATES: frozenset[str] = frozenset({"starting", "crashed", "stopped", "terminated"})


@dataclass
class NodeEntry:
    name: str
    role: str
    state: NodeState = "starting"
    incarnation: int = 0
    port: int | None = None

    @property
    def reachable(self) -> bool:
        """Can a message be handed to this node's socket right now? (Paused nodes queue.)"""
        return self.state not in DOWN_STATES and self.port is not None


class Roster:
    def __init__(self) -> None:
        self._entries: dict[str, NodeEntry] = {}

    def add(self, name: str, role: str) -> NodeEntry:
        entry = self._entries[name] = NodeEntry(name, role)
        return entry

    def get(self, name: str) -> NodeEntry | None:
        return self._entries.get(name)

    def __getitem__(self, name: str) -> NodeEntry:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[NodeEntry]:
        return iter(self._entries.values())

    def names(self) -> list[str]:
        return sorted(self._entries)

    def with_role(self, role: str) -> list[str]:
        return sorted(e.name for e in self._entries.values() if e.role == role)

    def to_dict(self) -> dict[str, Any]:
        return {name: asdict(entry) for name, entry in self._entries.items()}

    def replace_from(self, data: Mapping[str, Any]) -> None:
        self._entries = {name: NodeEntry(**entry) for name, entry in data.items()}
