"""The simulator's trusted side: lab nodes run in a node host process, driven in lockstep.

Why: the process that keeps the clock, the network, the trace and the verdict must never run
student code (a student's file could patch the grader, or forge its results). So a simulated
run keeps all of that here and runs the lab's nodes in a node host (``_host.py``), forked per
cluster. Whenever a hosted node has something to do (a message falls due, a timer of its runs
out, the supervisor crashes or starts it), one *step* hands the host its inputs at the current
virtual time and takes back what the nodes did; nothing else runs here meanwhile, so virtual
time cannot move. What the host says is checked before it reaches the trace: it speaks only for
its own nodes, within limits.

The host is watched while it runs: a step that burns ``HANG_CPU_SECONDS`` of the host's CPU
(a handler that never awaits), or that sleeps in the kernel for ``BLOCKED_SECONDS`` (a
``time.sleep``, a read), is stopped, and the host says where it was stuck. CPU time, not wall
time: a busy machine slows the host down but never makes it "hang".
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ._errors import ImplementationError, NodeFloodError, NodeHostError, NodeHungError
from ._framing import FrameDecoder, FrameTooLargeError, frame
from ._host import WHERE_SIGNAL, HostSetup, run_host
from ._inprocess import InProcessDriver
from ._loading import NodeRef, precompile, ref_of, runs_apart
from ._node import Node
from ._procfs import any_thread_running, read_stat
from ._roster import NodeEntry
from ._storage import read_stored, save_stored
from ._trace import CRASH, FRAME_ERROR, LOG, STATUS, TIMER

if TYPE_CHECKING:
    from ._cluster import Cluster

HANG_CPU_SECONDS = 2.0
BLOCKED_SECONDS = 3.0
WHERE_GRACE_SECONDS = 1.0
#: bytes per read from the pipe: well under malloc's mmap threshold (a 1 MiB buffer costs
#: an mmap and an munmap per read)
_READ_SIZE = 65536
_POLL = 0.05
#: the most a host may say in one step; more is a flood
REPLY_LIMIT = 256 * 1024 * 1024
#: messages one node may send per second of virtual time
FLOOD_PER_SECOND = 20_000
_EMITTED_BY_NODES = frozenset({STATUS, LOG, TIMER, CRASH, FRAME_ERROR})
#: files a host may ask to have compiled for the next host (the student's, the lab's)
_MAX_PRECOMPILED = 20
_CANNOT_LOAD = f"{ImplementationError.__name__} in creating "


def _decode(raw: bytes, *, strict: bool = True) -> dict[str, Any]:
    """One message from the host: a JSON object, or (``strict``) the student's error."""
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    if isinstance(message, dict):
        return message
    if strict:
        raise NodeHostError(
            "the node host sent something that is not a message: something in your code wrote "
            "to distlab's channel"
        )
    return {}


class HostLink:
    """The trusted end of one node host: fork it, step it, watch it, end it."""

    def __init__(self, setup: HostSetup) -> None:
        command_read, self._command_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:  # the host
            os.close(self._command_write)
            os.close(self._reply_read)
            run_host(command_read, reply_write, setup)
        self.pid = pid
        os.close(command_read)
        os.close(reply_write)
        self._decoder = FrameDecoder(limit=REPLY_LIMIT)
        self._ready: list[bytes] = []
        self.exit_code: int | None = None

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for the answer, watching the host while it works."""
        data = frame(json.dumps(message, separators=(",", ":")).encode())
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._command_write, view) :]
        except OSError:
            raise self._ended() from None
        return self._answer()

    def _answer(self) -> dict[str, Any]:
        # The host's CPU time is read only once an answer is late: most come in microseconds.
        cpu_at_start: float | None = None
        blocked_since: float | None = None
        while not self._ready:
            readable, _, _ = select.select([self._reply_read], [], [], _POLL)
            if readable:
                self._read_some()
                continue
            cpu = self._cpu_seconds()
            if cpu is None:
                raise self._ended()
            if cpu_at_start is None:
                cpu_at_start = cpu - _POLL
            if cpu - cpu_at_start > HANG_CPU_SECONDS:
                raise self._hung(
                    f"running {cpu - cpu_at_start:.1f} s of CPU without waiting: a loop with "
                    "no await, or a handler that never returns"
                )
            if any_thread_running(self.pid):
                blocked_since = None
            elif blocked_since is None:
                blocked_since = time.monotonic()
            elif time.monotonic() - blocked_since > BLOCKED_SECONDS:
                raise self._hung(
                    f"blocking the process for over {BLOCKED_SECONDS:g} s (time.sleep, input "
                    "or another call that waits outside distlab): use await self.sleep()"
                )
        message = _decode(self._ready.pop(0))
        if "ended" in message or "hung" in message:
            raise self._ended(message)
        return message

    def _read_some(self) -> None:
        try:
            data = os.read(self._reply_read, _READ_SIZE)
        except OSError:
            data = b""
        if not data:
            raise self._ended()
        try:
            self._ready += self._decoder.feed(data)
        except FrameTooLargeError:
            raise NodeFloodError(
                "your code's nodes produced over 256 MiB of messages and events in one instant "
                "of virtual time"
            ) from None

    def _hung(self, why: str) -> NodeHungError:
        """Ask the host where it is stuck (it answers and exits), then make sure it is gone."""
        where = "node code"
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, WHERE_SIGNAL)
        deadline = time.monotonic() + WHERE_GRACE_SECONDS
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self._reply_read], [], [], _POLL)
            if readable:
                try:
                    self._read_some()
                except NodeHostError:
                    break
                found = [_decode(m, strict=False) for m in self._ready]
                said = [m["hung"] for m in found if "hung" in m]
                if said:
                    where = str(said[0])
                    break
        self.close()
        return NodeHungError(f"{where}: it hung, {why}")

    def _ended(self, message: dict[str, Any] | None = None) -> NodeHostError:
        """The host is gone, or going: in words, from what it said or how it exited."""
        if message is None:
            while True:  # what it wrote before it went
                readable, _, _ = select.select([self._reply_read], [], [], 0)
                if not readable:
                    break
                try:
                    data = os.read(self._reply_read, _READ_SIZE)
                    if not data:
                        break
                    self._ready += self._decoder.feed(data)
                except (OSError, FrameTooLargeError):
                    break
            for raw in self._ready:
                with_words = _decode(raw, strict=False)
                if "ended" in with_words or "hung" in with_words:
                    message = with_words
        self.close()
        if message is not None and "hung" in message:
            return NodeHungError(f"{message['hung']}: it hung")
        if message is not None:
            words = str(message["ended"])
            if words.startswith("flood:"):
                return NodeFloodError(f"{words[len('flood:') :].strip()} (a flood)")
            return NodeHostError(f"{words}: your code ended the process it runs in")
        from ._processes import describe_exit

        return NodeHostError(
            f"your code's process {describe_exit(self.exit_code)} while its nodes ran "
            "(a signal, a crash of the interpreter, or an exit distlab did not see)"
        )

    def _cpu_seconds(self) -> float | None:
        """The host's CPU time (user + system), or None once it has exited."""
        stat = read_stat(self.pid)
        return None if stat is None or stat.gone else stat.cpu_seconds

    def close(self) -> None:
        """End the host (if it is still there) and reap it."""
        if self.exit_code is not None:
            return
        for fd in (self._command_write, self._reply_read):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        self.exit_code = os.waitstatus_to_exitcode(status)


class HostedDriver(InProcessDriver):
    """The simulator's placement: lab nodes in a node host, the harness's nodes here."""

    def __init__(self, cluster: Cluster, nursery: trio.Nursery) -> None:
        super().__init__(cluster, nursery, simulated=True)
        self._link: HostLink | None = None
        self._hosted: dict[str, int] = {}  # node -> its incarnation running in the host
        self._inputs: list[list[Any]] = []
        self._more = trio.Event()
        self._next: float | None = None
        self._window: dict[str, tuple[float, int]] = {}  # node -> (window start, sends)
        nursery.start_soon(self._pump)

    def _host(self) -> HostLink:
        if self._link is None:
            cluster = self._cluster
            self._link = HostLink(
                HostSetup(
                    seed=cluster.seed,
                    config=dict(cluster.config),
                    zero=cluster._clock_zero,
                    frame_limit=cluster.frame_limit,
                    storage_dir=cluster.storage_dir,
                )
            )
            self._queue(["roster", {e.name: e.role for e in cluster.roster}])
        return self._link

    def _queue(self, item: list[Any]) -> None:
        self._inputs.append(item)
        self._more.set()

    # -- the placement driver --------------------------------------------------------------------

    async def start(self, entry: NodeEntry, node_class: type[Node] | NodeRef) -> int | None:
        if not runs_apart(node_class):
            return await super().start(entry, node_class)
        self._host()
        ref = ref_of(node_class)
        path = self._cluster.storage_dir / f"{entry.name}.json"
        stored = read_stored(path, files=self._cluster.storage_files)
        self._hosted[entry.name] = entry.incarnation
        self._queue(
            [
                "start",
                entry.name,
                entry.role,
                entry.incarnation,
                str(ref.path),
                ref.class_name,
                stored,
            ]
        )
        return 0

    def node(self, name: str) -> Node | None:
        return None if name in self._hosted else super().node(name)

    def admit(self, name: str) -> None:
        if name in self._hosted:
            self._queue(["admit", name])
        else:
            super().admit(name)

    async def kill(self, name: str) -> None:
        if name not in self._hosted:
            await super().kill(name)
            return
        incarnation = self._hosted.pop(name)
        self._queue(["kill", name])
        self.emit(
            CRASH,
            node=name,
            incarnation=incarnation,
            reason="crashed on purpose (by the supervisor)",
        )

    def arm_crash_point(self, name: str, msg_type: str, nth: int) -> None:
        if name in self._hosted:
            self._queue(["crash_point", name, msg_type, nth])
        else:
            super().arm_crash_point(name, msg_type, nth)

    def pause(self, name: str) -> None:
        if name in self._hosted:
            self._queue(["pause", name])
        else:
            super().pause(name)

    def resume(self, name: str) -> None:
        if name in self._hosted:
            self._queue(["resume", name])
        else:
            super().resume(name)

    def roster_changed(self) -> None:
        if self._link is not None:
            self._queue(["roster", {e.name: e.role for e in self._cluster.roster}])

    def _hand_over(self, dest: str, payload: bytes) -> None:
        if dest in self._hosted:
            self._queue(["deliver", dest, payload.decode()])
        else:
            super()._hand_over(dest, payload)

    async def stop_all(self) -> None:
        if self._link is not None:
            self._link.close()
        self._hosted.clear()
        await super().stop_all()

    # -- stepping --------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Step the host whenever it has inputs, or one of its timers is due."""
        while True:
            if not self._inputs:
                with trio.move_on_at(math.inf if self._next is None else self._next):
                    await self._more.wait()
                self._more = trio.Event()
                due = self._next is not None and trio.current_time() >= self._next
                if not self._inputs and not due:
                    continue
            if self._link is None or self._link.exit_code is not None:
                self._inputs.clear()
                self._next = None
                continue
            inputs, self._inputs = self._inputs, []
            try:
                answer = self._link.ask({"t": trio.current_time(), "inputs": inputs})
                self._take(answer)
            except NodeHostError as exc:
                self._host_failed(exc)
                raise
            await trio.lowlevel.checkpoint()

    def _take(self, answer: dict[str, Any]) -> None:
        try:
            for effect in answer["effects"]:
                self._apply(effect)
            next_deadline = answer["next"]
            self._next = None if next_deadline is None else float(next_deadline)
            self._cluster.nondeterminism += [str(c) for c in answer.get("calls", ())]
            for path in answer.get("compiled", ())[:_MAX_PRECOMPILED]:
                precompile(Path(str(path)))  # compiled only, never run, here
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise NodeHostError(
                f"the node host's answer could not be read ({type(exc).__name__}: {exc}): "
                "something in your code wrote to distlab's channel"
            ) from None

    def _apply(self, effect: list[Any]) -> None:
        what = effect[0]
        if what == "send":
            _, src, mid, payload = effect
            self._send_from(str(src), str(mid), str(payload))
        elif what == "emit":
            _, kind, fields = effect
            if kind not in _EMITTED_BY_NODES or fields.get("node") not in self._hosted:
                return  # not one of the events a node may emit, or not a running node's
            if kind == CRASH:
                if fields.get("incarnation") != self._hosted[fields["node"]]:
                    return
                del self._hosted[fields["node"]]
            self.emit(kind, **fields)
            if kind == CRASH and str(fields.get("reason")).startswith(_CANNOT_LOAD):
                # The implementation does not import: one clear verdict, not a run of crashes.
                raise ImplementationError(str(fields["reason"]).split(": ", 1)[-1])
        elif what == "store":
            _, node, text = effect
            if node in self._hosted and isinstance(text, str):
                path = self._cluster.storage_dir / f"{node}.json"
                save_stored(path, text, files=self._cluster.storage_files)
        else:
            raise ValueError(f"unknown effect {what!r}")

    def _send_from(self, src: str, mid: str, payload: str) -> None:
        incarnation = self._hosted.get(src)
        if incarnation is None or not mid.startswith(f"{src}/{incarnation}/"):
            return  # a node that is no longer running: its messages died with it
        envelope = json.loads(payload)
        body = envelope["body"]
        if envelope["src"] != src or not isinstance(body, dict):
            raise ValueError(f"a message from {src} names another sender")
        self._count_send(src)
        self.transport.send(
            src=src, dest=str(envelope["dest"]), body=body, mid=mid, payload=payload.encode()
        )

    def _count_send(self, src: str) -> None:
        now = self._cluster.now()
        start, count = self._window.get(src, (now, 0))
        if now - start >= 1.0:
            start, count = now, 0
        count += 1
        self._window[src] = (start, count)
        if count > FLOOD_PER_SECOND:
            raise NodeFloodError(
                f"node {src} flooded the network: it sent {count:,} messages in "
                f"{now - start:.3f} s of virtual time (from t={start:.3f} s), more than "
                f"distlab allows ({FLOOD_PER_SECOND:,} per second): a loop that sends without "
                "waiting?"
            )

    def _host_failed(self, exc: NodeHostError) -> None:
        """Every hosted node died with the host: the trace says so, and why."""
        for name, incarnation in sorted(self._hosted.items()):
            self.emit(
                CRASH,
                node=name,
                incarnation=incarnation,
                reason=f"the node host stopped: {exc}",
            )
        self._hosted.clear()
        if self._link is not None:
            self._link.close()
