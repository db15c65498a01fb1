"""The processes placement: one OS process per node, supervised from here.

Each node process gets two pipes (commands in, trace events out) and its stdout and stderr are
read here: the last lines are kept, so a process that dies on its own is reported with its exit
code and the tail of what it printed. Crash is SIGKILL; pause and resume are SIGSTOP and SIGCONT.

A node process holds the messages it has sent but not yet delivered (their delay has not run
out). When it dies they die with it: once its event pipe is drained, every message it sent that
still has no fate is recorded as lost.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
from collections import deque
from typing import TYPE_CHECKING, Any

import trio

from ._child import EXIT_IMPORT_FAILED, EXIT_NODE_CRASHED, EXIT_STOPPED
from ._fates import FateLedger
from ._forkserver import ForkedProcess, fork_node_process
from ._framing import FrameDecoder, frame
from ._inprocess import InProcessDriver
from ._loading import NodeRef, is_harness
from ._message import encode_json
from ._network import FaultChange
from ._node import Node
from ._roster import NodeEntry
from ._trace import CRASH, LOG, LOST

if TYPE_CHECKING:
    from ._cluster import Cluster

OUTPUT_TAIL_LINES = 20
STOP_GRACE_SECONDS = 3.0


class _NodeProcess:
    def __init__(self, name: str, incarnation: int, proc: ForkedProcess) -> None:
        self.name = name
        self.incarnation = incarnation
        self.proc = proc
        self.port: int | None = None
        self.ready_or_dead = trio.Event()
        self.dead = trio.Event()
        self.killed = False
        self.stopping = False
        self.crash_reported = False
        self.listening = True  # its command pipe is being written
        self.tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        self.output_done = trio.Event()
        self.commands_in, self.commands_out = trio.open_memory_channel[dict[str, Any]](float("inf"))
        self.flushed: dict[int, trio.Event] = {}  # settle() token -> set when it comes back
        self.drained = False  # it exited, and everything it wrote to its event pipe is read

    def command(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(trio.ClosedResourceError):  # a dead process needs no orders
            self.commands_in.send_nowait(message)

    def signal(self, signum: int) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signum)


def _about_itself(name: str, fields: Any) -> bool:
    """Is this event, reported by node ``name``'s process, about that node (or what it sent)?"""
    if not isinstance(fields, dict):
        return False
    return bool(fields.get("node", fields.get("src")) == name)


def describe_exit(code: int | None) -> str:
    """How a process ended, in words: "exited with code 3", "was killed by SIGSEGV"."""
    if code is None:
        return "it is still running"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class ProcessDriver:
    """One process per node; the harness's own nodes (a grader's clients) run here."""

    def __init__(self, cluster: Cluster, nursery: trio.Nursery) -> None:
        self._cluster = cluster
        self._nursery = nursery
        self._procs: dict[str, _NodeProcess] = {}
        self._flush_tokens = itertools.count(1)
        self._ledger = FateLedger()
        cluster.trace.subscribe(self._ledger.observe)
        self._local: InProcessDriver | None = None
        self._local_names: set[str] = set()

    def _here(self, name: str) -> InProcessDriver | None:
        return self._local if name in self._local_names else None

    async def start(self, entry: NodeEntry, node_class: type[Node] | NodeRef) -> int | None:
        from ._cluster import class_location

        if is_harness(node_class):
            if self._local is None:
                self._local = InProcessDriver(self._cluster, self._nursery, simulated=False)
            self._local_names.add(entry.name)
            return await self._local.start(entry, node_class)

        class_file, class_name = class_location(node_class)
        cmd_read, cmd_write = os.pipe()
        event_read, event_write = os.pipe()
        try:
            proc = await fork_node_process(cmd_read, event_write)
        finally:
            os.close(cmd_read)
            os.close(event_write)
        child = _NodeProcess(entry.name, entry.incarnation, proc)
        self._procs[entry.name] = child
        cluster = self._cluster
        child.command(
            {
                "cmd": "init",
                "name": entry.name,
                "role": entry.role,
                "incarnation": entry.incarnation,
                "class_file": class_file,
                "class_name": class_name,
                "config": dict(cluster.config),
                "seed": cluster.seed,
                "storage_dir": str(cluster.storage_dir),
                "frame_limit": cluster.frame_limit,
                "started_at": cluster.started_at,
                "roster": cluster.roster.to_dict(),
                "faults": cluster.network.state.to_dict(),
            }
        )
        events_done = trio.Event()
        self._nursery.start_soon(self._write_commands, child, trio.lowlevel.FdStream(cmd_write))
        self._nursery.start_soon(
            self._read_events, child, trio.lowlevel.FdStream(event_read), events_done
        )
        self._nursery.start_soon(self._read_output, child)
        self._nursery.start_soon(self._watch, child, events_done)
        await child.ready_or_dead.wait()
        return child.port

    def node(self, name: str) -> Node | None:
        """Lab nodes live in their own processes: only the harness's are reachable here."""
        local = self._here(name)
        return local.node(name) if local is not None else None

    def admit(self, name: str) -> None:
        if (local := self._here(name)) is not None:
            local.admit(name)
            return
        self._procs[name].command({"cmd": "admit"})

    async def kill(self, name: str) -> None:
        if (local := self._here(name)) is not None:
            await local.kill(name)
            return
        child = self._procs[name]
        child.killed = True
        child.signal(signal.SIGKILL)
        await child.dead.wait()
        self._cluster.emit(
            CRASH,
            node=name,
            incarnation=child.incarnation,
            reason="crashed on purpose (by the supervisor): process killed",
        )
        self._account_for_in_flight(child, "was killed")

    def arm_crash_point(self, name: str, msg_type: str, nth: int) -> None:
        if (local := self._here(name)) is not None:
            local.arm_crash_point(name, msg_type, nth)
            return
        self._procs[name].command({"cmd": "crash_point", "type": msg_type, "nth": nth})

    def pause(self, name: str) -> None:
        if (local := self._here(name)) is not None:
            local.pause(name)
            return
        self._procs[name].signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        if (local := self._here(name)) is not None:
            local.resume(name)
            return
        self._procs[name].signal(signal.SIGCONT)

    async def settle(self, timeout: float) -> None:
        """Ask every running node process to ship its events, and wait for each to answer.

        A process answers after the events it emitted before the request, through the same
        pipe: once every answer is in, so are those events.
        """
        token = next(self._flush_tokens)
        asked = []
        for child in self._procs.values():
            paused = self._cluster.state(child.name) == "paused"
            if child.drained or paused or not child.listening:
                continue
            child.flushed[token] = trio.Event()
            child.command({"cmd": "flush", "token": token})
            asked.append(child)
        with trio.move_on_after(timeout):
            for child in asked:
                await child.flushed[token].wait()  # set by the answer, or by its death
        for child in asked:
            child.flushed.pop(token, None)

    def roster_changed(self) -> None:
        roster = self._cluster.roster.to_dict()
        for child in self._procs.values():
            child.command({"cmd": "roster", "roster": roster})

    def faults_changed(self, change: FaultChange) -> None:
        for child in self._procs.values():
            child.command(
                {
                    "cmd": "faults",
                    "state": change.state.to_dict(),
                    "description": change.description,
                }
            )

    async def stop_all(self) -> None:
        """Stop every node process: politely, then by force; never waits forever.

        Why it waits on the processes themselves and not on the watcher tasks: when the run is
        being cancelled from outside, those tasks are cancelled too and would never report.
        """
        alive = [c for c in self._procs.values() if c.proc.returncode is None]
        for child in alive:
            child.stopping = True
            child.signal(signal.SIGCONT)
            child.command({"cmd": "stop"})
        with trio.move_on_after(STOP_GRACE_SECONDS):
            for child in alive:
                if child.listening:  # a child whose command pipe is gone cannot hear "stop"
                    await child.proc.wait()
        for child in alive:
            if child.proc.returncode is None:
                child.signal(signal.SIGKILL)
                await child.proc.wait()
        with trio.move_on_after(1.0):  # let the event readers drain what the children wrote
            for child in alive:
                await child.dead.wait()
        for child in alive:
            self._account_for_in_flight(child, "was stopped at the end of the run")
        if self._local is not None:
            await self._local.stop_all()

    # -- per-process tasks -------------------------------------------------------------------

    async def _write_commands(self, child: _NodeProcess, stream: trio.lowlevel.FdStream) -> None:
        try:
            async with stream:
                async for message in child.commands_out:
                    try:
                        await stream.send_all(frame(encode_json(message, what="a command")))
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        return
        finally:
            child.listening = False

    async def _read_events(
        self, child: _NodeProcess, stream: trio.lowlevel.FdStream, done: trio.Event
    ) -> None:
        decoder = FrameDecoder(limit=64 * 1024 * 1024)
        trace = self._cluster.trace
        try:
            async with stream:
                while data := await stream.receive_some(65536):
                    for payload in decoder.feed(data):
                        message = json.loads(payload)
                        if "ready" in message:
                            child.port = message["ready"]
                            child.ready_or_dead.set()
                        if "flushed" in message and message["flushed"] in child.flushed:
                            child.flushed[message["flushed"]].set()
                        for kind, t, fields in message.get("events", ()):
                            if not _about_itself(child.name, fields):
                                continue  # a node process speaks only for itself
                            if kind == CRASH:
                                child.crash_reported = True
                            trace.record(kind, t, fields)
        finally:
            done.set()

    async def _read_output(self, child: _NodeProcess) -> None:
        assert child.proc.stdout is not None
        partial = b""
        try:
            async with child.proc.stdout:
                while data := await child.proc.stdout.receive_some(65536):
                    *lines, partial = (partial + data).split(b"\n")
                    for line in lines:
                        self._output_line(child, line)
            if partial:
                self._output_line(child, partial)
        finally:
            child.output_done.set()

    def _output_line(self, child: _NodeProcess, line: bytes) -> None:
        text = line.decode(errors="replace").rstrip()
        child.tail.append(text)
        self._cluster.emit(LOG, node=child.name, level="output", text=text)

    async def _watch(self, child: _NodeProcess, events_done: trio.Event) -> None:
        code = await child.proc.wait()
        await events_done.wait()
        child.commands_in.close()
        child.ready_or_dead.set()
        child.drained = True
        for flushed in child.flushed.values():  # it has shipped all it ever will
            flushed.set()
        if not (child.killed or child.stopping):
            if not child.crash_reported:
                # Died on its own: not through a Python exception in node code.
                with trio.move_on_after(1.0):  # let the last lines of output arrive
                    await child.output_done.wait()
                self._cluster.emit(
                    CRASH,
                    node=child.name,
                    incarnation=child.incarnation,
                    reason=f"the node's process {describe_exit(code)}",
                    exit_code=code,
                    output_tail="\n".join(child.tail),
                )
            elif code not in (EXIT_NODE_CRASHED, EXIT_IMPORT_FAILED, EXIT_STOPPED):
                self._cluster.emit(
                    LOG,
                    node=child.name,
                    level="warning",
                    text=f"the node's process {describe_exit(code)}",
                )
            self._account_for_in_flight(child, "died")
        child.dead.set()

    def _account_for_in_flight(self, child: _NodeProcess, how: str) -> None:
        for sent in self._ledger.pending_from(child.name):
            self._cluster.emit(
                LOST,
                src=sent["src"],
                dest=sent["dest"],
                mid=sent["mid"],
                type=sent.get("type", sent.get("body", {}).get("type")),
                copy=sent.get("copy", 0),
                reason=f"in flight inside {child.name}'s process when it {how}",
            )
