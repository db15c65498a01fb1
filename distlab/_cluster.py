"""The supervisor: starts a cluster, breaks it on request, and records everything in one trace.

``open_cluster`` is the one entry point for tests, the grader, the TUI and ``distlab run``. Where
the nodes run is a *placement*: all in this process (``"inprocess"``), one OS process each
(``"processes"``), or simulated in this process on virtual time (``"sim"``, inside
``run_simulated``). Node code and this API are the same for all three.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

import trio

from ._errors import ConfigError
from ._faults import FaultState
from ._framing import MAX_FRAME_BYTES
from ._loading import NodeRef, ref_of
from ._network import FaultChange, Network
from ._node import Node
from ._roster import NodeEntry, Roster
from ._sim import require_virtual_time
from ._storage import delete_stored
from ._trace import (
    CHECK_FAILED,
    CHECK_PASSED,
    CRASH,
    FAULT,
    FLUSH_INTERVAL,
    PAUSE,
    RESTART,
    RESUME,
    RUN_END,
    RUN_START,
    SPAWN,
    START,
    STATUS,
    TERMINATE,
    Trace,
    TraceEvent,
)

Placement: TypeAlias = Literal["inprocess", "processes", "sim"]
PLACEMENTS: tuple[Placement, ...] = ("inprocess", "processes", "sim")


@dataclass(frozen=True)
class NodeSpec:
    """One node to run: its name, its role in the lab, and the class that implements it.

    The class is a class, or a :class:`NodeRef` (file and class name) that each incarnation
    loads afresh; a lab's nodes are NodeRefs, so the supervisor never imports student code.
    """

    name: str
    role: str
    node_class: type[Node] | NodeRef


@dataclass(frozen=True)
class ClusterSpec:
    nodes: tuple[NodeSpec, ...]
    config: Mapping[str, Any] = field(default_factory=dict)
    #: the lab these nodes come from (its slug), if any: the trace's run_start names it
    lab: str | None = None

    def class_for_role(self, role: str) -> type[Node] | NodeRef:
        for node in self.nodes:
            if node.role == role:
                return node.node_class
        raise ConfigError(
            f"no node class for role {role!r}: roles in this cluster are "
            f"{', '.join(sorted({n.role for n in self.nodes}))}"
        )


class PlacementDriver(Protocol):
    """How nodes are actually run: in this process, or one OS process each."""

    async def start(self, entry: NodeEntry, node_class: type[Node] | NodeRef) -> int | None:
        """Bind the node's socket and return its port; its code waits for ``admit``."""

    def admit(self, name: str) -> None: ...
    def node(self, name: str) -> Node | None: ...
    async def kill(self, name: str) -> None:
        """Crash the node now and record the crash."""

    def arm_crash_point(self, name: str, msg_type: str, nth: int) -> None: ...
    def pause(self, name: str) -> None: ...
    def resume(self, name: str) -> None: ...
    def roster_changed(self) -> None: ...
    def faults_changed(self, change: FaultChange) -> None: ...
    async def settle(self, timeout: float) -> None:
        """Return once every event the nodes emitted so far is in the trace (or ``timeout``)."""

    async def stop_all(self) -> None: ...


#: the longest Cluster.settle() waits for node processes to ship their events (seconds): it
#: returns as soon as they have, but a loaded machine may keep a process waiting for a while
SETTLE_TIMEOUT = 10.0


def random_seed() -> int:
    return secrets.randbelow(10**6)


class Cluster:
    """A running cluster. Get one from :func:`open_cluster`.

    Faults: ``cluster.network.set_faults(drop=0.2)``, ``cluster.network.isolate("server")``,
    ``cluster.network.heal()``. Nodes: ``await cluster.crash("worker-1")``,
    ``await cluster.restart("worker-1")``, ``await cluster.pause(...)``, ``await
    cluster.spawn("worker-4", role="worker")``. What nodes publish:
    ``cluster.status_of("client")``. Everything that happens: ``cluster.trace``.
    """

    def __init__(
        self,
        spec: ClusterSpec,
        *,
        seed: int,
        trace: Trace,
        network: Network,
        storage_dir: Path,
        frame_limit: int,
        placement: Placement,
        keep_storage_in_memory: bool = False,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self.trace = trace
        self.network = network
        self.roster = Roster()
        self.config: Mapping[str, Any] = dict(spec.config)
        self.storage_dir = storage_dir
        #: the simulator keeps node storage in memory (see distlab/_storage.py); else files
        self.storage_files: dict[Path, str] | None = (
            {} if placement == "sim" and keep_storage_in_memory else None
        )
        self.frame_limit = frame_limit
        self.placement = placement
        # Live runs share the machine's monotonic clock with node processes; the simulator
        # runs on trio's virtual clock.
        self.started_at = time.monotonic()
        self._clock = trio.current_time if placement == "sim" else time.monotonic
        self._clock_zero = self._clock()
        self._classes: dict[str, type[Node] | NodeRef] = {}
        self._status: dict[str, dict[str, Any]] = {}
        # Set (and dropped) by the next event / status event: what waiters wait on.
        self._next_event: trio.Event | None = None
        self._next_status: trio.Event | None = None
        self._driver: PlacementDriver | None = None
        #: (passed, check, story, why the run ended): written last, before run_end
        self._verdict: tuple[bool, str, str, str | None] | None = None
        self._lock = trio.Lock()
        #: wall-clock and unseeded-random calls node code made, in words with file:line (found
        #: where node code runs in a node host: simulated runs)
        self.nondeterminism: list[str] = []
        trace.subscribe(self._observe)
        network.on_change(self._faults_changed)

    # -- time and events ---------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the cluster started (virtual seconds in the simulator)."""
        return self._clock() - self._clock_zero

    def emit(self, kind: str, **fields: Any) -> TraceEvent:
        return self.trace.record(kind, self.now(), fields)

    def _observe(self, event: TraceEvent) -> None:
        if self._next_event is not None:
            self._next_event.set()
            self._next_event = None
        if event.kind == STATUS:
            self._status.setdefault(event["node"], {}).update(event["fields"])
            if self._next_status is not None:
                self._next_status.set()
                self._next_status = None
        elif event.kind == CRASH:
            entry = self.roster.get(event["node"])
            if entry is not None and entry.incarnation == event.get(
                "incarnation", entry.incarnation
            ):
                self._set_state(entry, "crashed")

    def _faults_changed(self, change: FaultChange) -> None:
        self.emit(
            FAULT,
            change=change.description,
            faults=change.state.to_dict(),
            summary=change.state.describe(),
        )
        if self._driver is not None:
            self._driver.faults_changed(change)

    # -- reading state -------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return self.roster.names()

    def state(self, name: str) -> str:
        """``"up"``, ``"paused"``, ``"crashed"``, ``"starting"``, ``"stopped"`` or
        ``"terminated"``."""
        return self._entry(name).state

    def status_of(self, name: str) -> dict[str, Any]:
        """Every field the node has published with ``status()`` since it last started."""
        self._entry(name)
        return dict(self._status.get(name, {}))

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, checking it again after every trace event.

        ``await cluster.wait_until(lambda: cluster.state("server") == "crashed")``. Bound it
        with ``trio.fail_after`` / ``trio.move_on_after``.
        """
        while not predicate():
            if self._next_event is None:
                self._next_event = trio.Event()
            await self._next_event.wait()

    async def settle(self, *, timeout: float = SETTLE_TIMEOUT) -> None:
        """Return once every event any node has emitted so far is in :attr:`trace`.

        In one process (``inprocess``, ``sim``) events reach the trace as they happen, and this
        returns at once. With one process per node, each node ships its events through a pipe
        of its own: a status event from one node can arrive before an earlier delivery recorded
        by another. Call this before a check that reads the trace right after waiting for a
        status. Paused nodes cannot answer (their events up to the pause are in); waits at
        most ``timeout`` seconds for the others.
        """
        if self._driver is not None:
            await self._driver.settle(timeout)

    async def wait_for_status(
        self, name: str, predicate: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """Wait until ``predicate(status_of(name))`` holds; returns that status.

        Checked again after every status event only, so waiting costs nothing while messages
        flow.
        """
        while not predicate(self.status_of(name)):
            if self._next_status is None:
                self._next_status = trio.Event()
            await self._next_status.wait()
        return self.status_of(name)

    def node_object(self, name: str) -> Node:
        """The running node object (in-process and simulated placements only).

        For test harnesses (a grader's client node); student code never needs it.
        """
        self._entry(name)
        node = self._driver.node(name) if self._driver is not None else None
        if node is None:
            raise ConfigError(
                f"node {name!r} has no object here: it is down, or runs in its own process"
            )
        return node

    def _entry(self, name: str) -> NodeEntry:
        entry = self.roster.get(name)
        if entry is None:
            raise ConfigError(f"no node named {name!r}; nodes: {', '.join(self.roster.names())}")
        return entry

    def _set_state(self, entry: NodeEntry, state: Any) -> None:
        entry.state = state
        if state in ("crashed", "stopped", "terminated"):
            entry.port = None
        if self._driver is not None:
            self._driver.roster_changed()

    # -- life cycle ---------------------------------------------------------------------------

    async def _start_node(self, entry: NodeEntry, kind: str) -> None:
        entry.incarnation += 1
        entry.state = "starting"
        self._status.pop(entry.name, None)
        assert self._driver is not None
        port = await self._driver.start(entry, self._classes[entry.name])
        if port is None or entry.state != "starting":
            return  # it crashed while starting; the crash is in the trace
        entry.port = port
        self._set_state(entry, "up")
        self.emit(
            kind,
            node=entry.name,
            role=entry.role,
            incarnation=entry.incarnation,
            port=port,
            cls=class_name(self._classes[entry.name]),
        )
        self._driver.admit(entry.name)

    async def crash(self, name: str) -> None:
        """Crash a node now: its tasks stop, its memory is lost, its storage stays."""
        async with self._lock:
            entry = self._entry(name)
            if entry.state in ("crashed", "stopped", "terminated"):
                return
            assert self._driver is not None
            # The driver records the crash, which marks the node crashed (see _observe).
            await self._driver.kill(name)

    async def terminate(self, name: str) -> None:
        """Remove a node for good (a scaled-in cloud instance): it stops as in a crash, its
        storage is deleted, messages still addressed to it are lost, and it never restarts.
        Its name stays taken: another node needs another name."""
        async with self._lock:
            entry = self._entry(name)
            if entry.state == "terminated":
                return
            assert self._driver is not None
            if entry.state not in ("crashed", "stopped"):
                await self._driver.kill(name)
            self._set_state(entry, "terminated")
            delete_stored(self.storage_dir / f"{name}.json", files=self.storage_files)
            self.emit(TERMINATE, node=name, incarnation=entry.incarnation)

    async def crash_after_send(self, name: str, msg_type: str, *, nth: int = 1) -> None:
        """Crash the node right after its ``nth`` next send of a ``msg_type`` message.

        The crash comes between that send and whatever the node's code does next (a storage
        write, another send): the point at which a protocol's order of steps matters. Armed for
        the node's current incarnation only; the crash is recorded like any other.
        """
        if nth < 1:
            raise ConfigError(f"crash_after_send: nth must be 1 or more, got {nth!r}")
        async with self._lock:
            entry = self._entry(name)
            if entry.state not in ("up", "paused"):
                raise ConfigError(f"cannot arm a crash point on {name}: it is {entry.state}")
            assert self._driver is not None
            self._driver.arm_crash_point(name, msg_type, nth)

    async def restart(self, name: str) -> None:
        """Start a fresh incarnation (crashing the current one first if it is still running)."""
        if self._entry(name).state == "terminated":
            raise ConfigError(f"cannot restart {name}: it was terminated (spawn a new node)")
        await self.crash(name)
        # Shielded: a start cut off halfway would leave the node "starting" for good.
        with trio.CancelScope(shield=True):
            async with self._lock:
                await self._start_node(self._entry(name), RESTART)

    async def pause(self, name: str) -> None:
        """Freeze a node: it handles nothing until resumed; messages to it wait in its socket."""
        async with self._lock:
            entry = self._entry(name)
            if entry.state != "up":
                raise ConfigError(f"cannot pause {name}: it is {entry.state}, not up")
            assert self._driver is not None
            self._driver.pause(name)
            self._set_state(entry, "paused")
            self.emit(PAUSE, node=name)

    async def resume(self, name: str) -> None:
        async with self._lock:
            entry = self._entry(name)
            if entry.state != "paused":
                raise ConfigError(f"cannot resume {name}: it is {entry.state}, not paused")
            assert self._driver is not None
            self._driver.resume(name)
            self._set_state(entry, "up")
            self.emit(RESUME, node=name)

    async def spawn(
        self, name: str, *, role: str, node_class: type[Node] | NodeRef | None = None
    ) -> None:
        """Add a node to the running cluster (autoscaling). Its class defaults to its role's."""
        async with self._lock:
            if name in self.roster:
                raise ConfigError(f"a node named {name!r} already exists")
            self._classes[name] = node_class or self.spec.class_for_role(role)
            entry = self.roster.add(name, role)
            self.emit(SPAWN, node=name, role=role)
            if self._driver is not None:
                self._driver.roster_changed()
            with trio.CancelScope(shield=True):  # see restart()
                await self._start_node(entry, START)

    async def _start_all(self, driver: PlacementDriver) -> None:
        self._driver = driver
        for node in self.spec.nodes:
            if node.name in self.roster:
                raise ConfigError(f"two nodes are named {node.name!r}")
            self._classes[node.name] = node.node_class
            self.roster.add(node.name, node.role)
        self.emit(
            RUN_START,
            seed=self.seed,
            placement=self.placement,
            **({"lab": self.spec.lab} if self.spec.lab else {}),
            nodes={n.name: n.role for n in self.spec.nodes},
            config=dict(self.config),
            faults=self.network.state.to_dict(),
            summary=self.network.state.describe(),
        )
        async with self._lock:
            for node in self.spec.nodes:
                await self._start_node(self.roster[node.name], START)

    def record_verdict(
        self, *, passed: bool, story: str, check: str, ended: str | None = None
    ) -> None:
        """Say how the run went: the trace ends with it (``check_passed``/``check_failed``, then
        ``run_end``), so a replay finds the verdict. ``ended``: why the run ended, if not
        simply because it finished (``"time ran out after 10 s"``)."""
        self._verdict = (passed, check, story, ended)

    async def _stop(self, reason: str) -> None:
        if self._driver is not None:
            await self._driver.stop_all()
        for entry in self.roster:
            if entry.state not in ("crashed", "terminated"):
                entry.state = "stopped"
        if self._verdict is not None:
            passed, check, story, ended = self._verdict
            self.emit(CHECK_PASSED if passed else CHECK_FAILED, test=check, message=story)
            reason = ended or reason
        self.emit(RUN_END, reason=reason, counts=dict(self.trace.counts))
        self.trace.flush()

    async def _flush_forever(self) -> None:
        while True:
            await trio.sleep(FLUSH_INTERVAL)
            self.trace.flush()


@asynccontextmanager
async def open_cluster(
    spec: ClusterSpec,
    *,
    seed: int | None = None,
    placement: Placement = "inprocess",
    faults: FaultState | None = None,
    trace_path: Path | None = None,
    storage_dir: Path | None = None,
    frame_limit: int = MAX_FRAME_BYTES,
    keep_events: bool = True,
    on_event: Callable[[TraceEvent], None] | None = None,
) -> AsyncIterator[Cluster]:
    """Start every node of ``spec`` and yield the running :class:`Cluster`.

    Leaving the block stops every node; messages still in flight are recorded as lost.
    ``on_event`` is called with every event from the very first (a TUI's feed); with
    ``keep_events=False`` the trace keeps none in memory. Example::

        async with open_cluster(spec, seed=7) as cluster:
            cluster.network.set_faults(drop=0.1)
            await cluster.wait_for_status("client", lambda s: s.get("done"))
    """
    if placement not in PLACEMENTS:
        raise ConfigError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    if placement == "sim":
        require_virtual_time()
    if seed is None:
        seed = random_seed()
    trace = Trace(path=trace_path, keep=keep_events)
    if on_event is not None:
        trace.subscribe(on_event)
    with tempfile.TemporaryDirectory(prefix="distlab-") as tmp:
        cluster = Cluster(
            spec,
            seed=seed,
            trace=trace,
            network=Network(seed=seed, state=faults),
            storage_dir=storage_dir or Path(tmp) / "storage",
            frame_limit=frame_limit,
            placement=placement,
            keep_storage_in_memory=storage_dir is None,  # nobody will look at the files
        )
        try:
            async with trio.open_nursery() as nursery:
                driver = _make_driver(placement, cluster, nursery)
                nursery.start_soon(cluster._flush_forever)
                reason = "the run finished"
                try:
                    await cluster._start_all(driver)
                    yield cluster
                except BaseException as exc:
                    reason = f"the run was interrupted ({type(exc).__name__})"
                    raise
                finally:
                    with trio.CancelScope(shield=True):
                        await cluster._stop(reason)
                    nursery.cancel_scope.cancel()
        finally:
            trace.close()


def _make_driver(placement: Placement, cluster: Cluster, nursery: trio.Nursery) -> PlacementDriver:
    if placement == "sim":
        from ._hosted import HostedDriver

        return HostedDriver(cluster, nursery)
    if placement == "inprocess":
        from ._inprocess import InProcessDriver

        return InProcessDriver(cluster, nursery, simulated=False)
    from ._processes import ProcessDriver

    return ProcessDriver(cluster, nursery)


def class_name(node_class: type[Node] | NodeRef) -> str:
    return node_class.name if isinstance(node_class, NodeRef) else node_class.__name__


def class_location(node_class: type[Node] | NodeRef) -> tuple[str, str]:
    """Where a node process can import ``node_class`` from: (file path, qualified name)."""
    ref = ref_of(node_class)
    return str(ref.path), ref.class_name
