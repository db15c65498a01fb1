"""Placements in this process: live (real TCP on loopback) or simulated (virtual time).

Both run node runners as tasks of this trio loop; they differ only in how messages travel: the
live transport writes frames to each node's socket, the simulated one hands them over from a
queue in virtual time.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ._carrier import Carrier
from ._loading import NodeRef, is_harness
from ._network import FaultChange
from ._node import Node
from ._roster import NodeEntry, Roster
from ._runner import NodeRunner
from ._sim import SimTransport
from ._trace import CRASH
from ._transport import LiveTransport

if TYPE_CHECKING:
    from ._cluster import Cluster


class InProcessDriver:
    """Runs node runners as tasks; one transport serves them all."""

    def __init__(self, cluster: Cluster, nursery: trio.Nursery, *, simulated: bool) -> None:
        self._cluster = cluster
        self._nursery = nursery
        self._runners: dict[str, NodeRunner] = {}
        self.roster: Roster = cluster.roster
        self.config: Mapping[str, Any] = cluster.config
        self.seed: int = cluster.seed
        self.storage_dir: Path = cluster.storage_dir
        self.storage_files: MutableMapping[Path, str] | None = cluster.storage_files
        self.frame_limit: int = cluster.frame_limit
        self._listen = not simulated
        self._transport: Carrier
        if simulated:
            self._transport = SimTransport(
                nursery=nursery,
                roster=cluster.roster,
                network=cluster.network,
                emit=cluster.emit,
                now=cluster.now,
                frame_limit=cluster.frame_limit,
                hand_over=self._hand_over,
            )
        else:
            self._transport = LiveTransport(
                nursery=nursery,
                roster=cluster.roster,
                network=cluster.network,
                emit=cluster.emit,
                now=cluster.now,
                frame_limit=cluster.frame_limit,
            )

    # -- the Host protocol, for node runners ---------------------------------------------------

    @property
    def transport(self) -> Carrier:
        return self._transport

    def now(self) -> float:
        return self._cluster.now()

    def emit(self, kind: str, **fields: Any) -> None:
        self._cluster.emit(kind, **fields)

    def node_crashed(self, runner: NodeRunner) -> None:
        """The crash event marks the node crashed in the roster; nothing more to do here."""

    def cluster_for_provider(self, node: Node) -> Cluster | None:
        """The cluster, lent to a lab's trusted provider (a harness node here); else None."""
        return self._cluster if is_harness(type(node)) else None

    # -- the placement driver --------------------------------------------------------------------

    async def start(self, entry: NodeEntry, node_class: type[Node] | NodeRef) -> int | None:
        runner = NodeRunner(
            name=entry.name,
            role=entry.role,
            node_class=node_class,
            incarnation=entry.incarnation,
            host=self,
        )
        self._runners[entry.name] = runner
        port: int = await self._nursery.start(partial(runner.run, listen=self._listen))
        return port

    def node(self, name: str) -> Node | None:
        runner = self._runners.get(name)
        return None if runner is None or runner.crashed else runner.node

    def _hand_over(self, dest: str, payload: bytes) -> None:
        runner = self._runners.get(dest)
        if runner is not None and not runner.crashed:
            runner.receive(payload, peer="the network")

    def admit(self, name: str) -> None:
        self.resume(name)

    async def kill(self, name: str) -> None:
        runner = self._runners.pop(name)
        runner.cancel()
        self.emit(
            CRASH,
            node=name,
            incarnation=runner.incarnation,
            reason="crashed on purpose (by the supervisor)",
        )

    def arm_crash_point(self, name: str, msg_type: str, nth: int) -> None:
        self._runners[name].arm_crash_point(msg_type, nth)

    def pause(self, name: str) -> None:
        self._runners[name].gate.shut()

    def resume(self, name: str) -> None:
        runner = self._runners[name]
        runner.gate.open()
        runner.release()

    def roster_changed(self) -> None:
        """Runners and the transport read the shared roster directly."""

    def faults_changed(self, change: FaultChange) -> None:
        """The transport reads the shared network directly."""

    async def settle(self, timeout: float) -> None:
        """Every event is in the trace as soon as it is emitted: nothing to wait for."""

    async def stop_all(self) -> None:
        for runner in self._runners.values():
            runner.cancel()
        self._runners.clear()
        self._transport.close()
