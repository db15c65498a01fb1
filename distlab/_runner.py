"""Runs one incarnation of one node: its listening socket, its handlers, its timers.

A crash — a handler that raised, or the supervisor pulling the plug — cancels everything the
incarnation owns at once (one cancel scope), closes its socket, and leaves the node object to be
thrown away. A restart is a new ``NodeRunner`` with a new node object and the same storage file.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ._errors import NodeError, RPCTimeoutError
from ._framing import FrameDecoder, FrameTooLargeError
from ._loading import NodeRef, fresh_node_class
from ._message import EnvelopeError, Message, parse_envelope
from ._node import _CURRENT_RUNNER, Node
from ._roster import Roster
from ._seeds import derived_rng
from ._storage import Storage
from ._trace import CRASH, FRAME_ERROR, LOG, STATUS, TIMER

if TYPE_CHECKING:
    from ._cluster import Cluster

_PACKAGE_DIR = str(Path(__file__).parent)


class Transport(Protocol):
    def send(self, *, src: str, dest: str, body: dict[str, Any], mid: str) -> None: ...


class Host(Protocol):
    """What a node runner needs from the process it lives in."""

    roster: Roster
    config: Mapping[str, Any]
    seed: int
    storage_dir: Path
    #: where storage is kept instead of files (the simulator's), or None: files in storage_dir
    storage_files: MutableMapping[Path, str] | None
    frame_limit: int

    @property
    def transport(self) -> Transport: ...
    def now(self) -> float: ...
    def emit(self, kind: str, **fields: Any) -> None: ...
    def node_crashed(self, runner: NodeRunner) -> None: ...
    def cluster_for_provider(self, node: Node) -> Cluster | None: ...


class CrashPointReached(BaseException):
    """Raised in node code at a crash point a test armed: the node is gone from that instant.

    A BaseException, so that the node's own ``except Exception`` cannot carry on past it (and if
    a bare ``except`` does, the node is crashed already: nothing it does is heard).
    """


class Gate:
    """Open while the node runs, shut while it is paused; node code waits at every checkpoint."""

    def __init__(self) -> None:
        self._open = trio.Event()
        self._open.set()

    def shut(self) -> None:
        if self._open.is_set():
            self._open = trio.Event()

    def open(self) -> None:
        self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    async def wait_open(self) -> None:
        if not self._open.is_set():
            await self._open.wait()


class TaskHandle:
    """A timer or background task of a node. ``cancel()`` stops it."""

    def __init__(self) -> None:
        self._scope = trio.CancelScope()

    def cancel(self) -> None:
        self._scope.cancel()


class _PendingRPC:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.reply: Message | None = None


def student_traceback(exc: BaseException) -> str:
    """The traceback without distlab's own frames: the student's code is what matters."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(_PACKAGE_DIR)
    ]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


class NodeRunner:
    def __init__(
        self,
        *,
        name: str,
        role: str,
        node_class: type[Node] | NodeRef,
        incarnation: int,
        host: Host,
    ) -> None:
        self.name = name
        self.role = role
        self.node_class = node_class
        self.incarnation = incarnation
        self.host = host
        self.rng = derived_rng(host.seed, "node", name, incarnation)
        self.storage = Storage(host.storage_dir / f"{name}.json", files=host.storage_files)
        # Shut until the supervisor admits the node, so that its "start" event comes first.
        self.gate = Gate()
        self.gate.shut()
        self.crashed = False
        self.node: Node | None = None
        self._scope = trio.CancelScope()
        self._nursery: trio.Nursery | None = None
        self._next_msg_id = 0
        self._rpcs: dict[int, _PendingRPC] = {}
        self._held: list[tuple[bytes, str]] = []
        #: (message type, sends of it left): the node crashes right after the last of them
        self._crash_point: tuple[str, int] | None = None

    # -- life cycle --------------------------------------------------------------------------

    async def run(
        self, *, listen: bool = True, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen, create the node, run it until it crashes or is cancelled.

        Reports the listening port through ``task_status`` as soon as it is bound (0 when not
        listening: the simulator hands messages over with ``receive``).
        """
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1") if listen else []
        port = listeners[0].socket.getsockname()[1] if listeners else 0
        with self._scope:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if listeners:
                    nursery.start_soon(trio.serve_listeners, self._serve_connection, listeners)
                else:  # the node lives until it crashes, even when none of its tasks run
                    nursery.start_soon(trio.sleep_forever)
                task_status.started(port)
                await self.gate.wait_open()
                token = _CURRENT_RUNNER.set(self)
                what = self.node_class
                try:
                    # A fresh copy of the class's module for each incarnation: see _loading.
                    node_class = fresh_node_class(self.node_class)
                    what = node_class
                    self.node = node_class()
                except Exception as exc:
                    name = what.name if isinstance(what, NodeRef) else what.__name__
                    self.crash_with(exc, where=f"creating {name}")
                    return
                finally:
                    _CURRENT_RUNNER.reset(token)
                self._start(self.node.on_start, (), where="on_start")

    def cancel(self) -> None:
        """Pull the plug (a crash ordered by the supervisor)."""
        self.crashed = True
        self._scope.cancel()

    def arm_crash_point(self, msg_type: str, nth: int) -> None:
        """Crash this incarnation right after its ``nth`` next send of a ``msg_type`` message."""
        self._crash_point = (msg_type, nth)

    def _crash_at_point(self, msg_type: str) -> None:
        self._go_down(f"crashed on purpose (a crash point: right after it sent a {msg_type!r})")
        raise CrashPointReached

    def crash_with(self, exc: BaseException, *, where: str) -> None:
        """The node's own code raised: record it, and take the node down."""
        if self.crashed:
            return
        self._go_down(f"{type(exc).__name__} in {where}: {exc}", traceback=student_traceback(exc))

    def _go_down(self, reason: str, **details: str) -> None:
        """Record the crash and cancel everything this incarnation owns."""
        self.crashed = True
        self.host.emit(
            CRASH, node=self.name, incarnation=self.incarnation, reason=reason, **details
        )
        self.host.node_crashed(self)
        self._scope.cancel()

    # -- tasks --------------------------------------------------------------------------------

    def _start(
        self,
        fn: Callable[..., Awaitable[None]],
        args: tuple[Any, ...],
        *,
        where: str,
        handle: TaskHandle | None = None,
        delay: float | None = None,
        interval: float | None = None,
    ) -> TaskHandle:
        handle = handle or TaskHandle()
        if self.crashed or self._nursery is None:
            return handle
        if not callable(fn):
            raise NodeError(f"{where}: {fn!r} is not a function to call")
        self._nursery.start_soon(self._run_task, fn, args, where, handle, delay, interval)
        return handle

    async def _run_task(
        self,
        fn: Callable[..., Awaitable[None]],
        args: tuple[Any, ...],
        where: str,
        handle: TaskHandle,
        delay: float | None,
        interval: float | None,
    ) -> None:
        with handle._scope:
            try:
                if delay is not None:
                    await self.sleep(delay)
                    self.host.emit(TIMER, node=self.name, name=where)
                await self.gate.wait_open()
                await fn(*args)
                while interval is not None:
                    await self.sleep(interval)
                    self.host.emit(TIMER, node=self.name, name=where)
                    await fn(*args)
            except BaseException as exc:
                self._crashed_in_node_code(exc, where=where)

    def after(
        self, delay: float, fn: Callable[..., Awaitable[None]], args: tuple[Any, ...]
    ) -> TaskHandle:
        return self._start(fn, args, where=_name_of(fn), delay=delay)

    def every(
        self, interval: float, fn: Callable[..., Awaitable[None]], args: tuple[Any, ...]
    ) -> TaskHandle:
        if not (isinstance(interval, int | float) and interval > 0):
            raise NodeError(f"every(): interval must be > 0 seconds, got {interval!r}")
        return self._start(fn, args, where=_name_of(fn), delay=interval, interval=interval)

    def spawn(self, fn: Callable[..., Awaitable[None]], args: tuple[Any, ...]) -> TaskHandle:
        return self._start(fn, args, where=_name_of(fn))

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)
        await self.gate.wait_open()

    # -- publishing ---------------------------------------------------------------------------

    def log(self, level: str, text: str) -> None:
        if not self.crashed:
            self.host.emit(LOG, node=self.name, level=level, text=str(text))

    def publish_status(self, fields: Mapping[str, Any]) -> None:
        try:
            json.dumps(dict(fields))
        except (TypeError, ValueError) as exc:
            raise NodeError(f"status(): every field must be JSON, {exc}") from None
        if not self.crashed:
            self.host.emit(STATUS, node=self.name, fields=dict(fields))

    # -- sending ------------------------------------------------------------------------------

    def send(self, dest: str, body: Mapping[str, Any]) -> int:
        """Send ``body``; returns the msg_id it was given."""
        if not isinstance(dest, str):
            raise NodeError(f"send(): dest must be a node name (a str), got {dest!r}")
        if not isinstance(body, Mapping) or not isinstance(body.get("type"), str):
            raise NodeError(
                f"send(): body must be a dict with a string 'type', "
                f"e.g. {{'type': 'ping'}}; got {body!r}"
            )
        self._next_msg_id += 1
        msg_id = self._next_msg_id
        if not self.crashed:
            self.host.transport.send(
                src=self.name,
                dest=dest,
                body={**body, "msg_id": msg_id},
                mid=f"{self.name}/{self.incarnation}/{msg_id}",
            )
            point = self._crash_point
            if point is not None and point[0] == body["type"]:
                self._crash_point = (point[0], point[1] - 1) if point[1] > 1 else None
                if point[1] <= 1:
                    self._crash_at_point(point[0])
        return msg_id

    def reply(self, msg: Message, body: Mapping[str, Any]) -> None:
        if msg.msg_id is None:
            raise NodeError(f"reply(): the {msg.type!r} message from {msg.src} has no msg_id")
        self.send(msg.src, {**body, "in_reply_to": msg.msg_id})

    async def rpc(self, dest: str, body: Mapping[str, Any], *, timeout: float) -> Message:
        pending = _PendingRPC()
        msg_id = self._next_msg_id + 1
        self._rpcs[msg_id] = pending
        try:
            self.send(dest, body)
            with trio.move_on_after(timeout):
                await pending.done.wait()
        finally:
            del self._rpcs[msg_id]
        await self.gate.wait_open()
        if pending.reply is None:
            raise RPCTimeoutError(
                dest=dest, body_type=str(body.get("type")), msg_id=msg_id, timeout=timeout
            )
        return pending.reply

    # -- receiving ----------------------------------------------------------------------------

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        decoder = FrameDecoder(limit=self.host.frame_limit)
        peer = _peer_name(stream)
        async with stream:
            while True:
                try:
                    data = await stream.receive_some(65536)
                except trio.BrokenResourceError:
                    return
                if not data:
                    return
                try:
                    payloads = decoder.feed(data)
                except FrameTooLargeError as exc:
                    self._frame_error(f"{exc} (from {peer}); connection closed")
                    return
                for payload in payloads:
                    await self.gate.wait_open()
                    self._receive(payload, peer)
                if decoder.error is not None:
                    self._frame_error(f"{decoder.error} (from {peer}); connection closed")
                    return

    def receive(self, payload: bytes, *, peer: str) -> None:
        """Take a frame's payload handed over without a socket (the simulator).

        A paused node holds it, as a paused process leaves it in its socket, until ``release``.
        """
        if self.gate.is_open:
            self._receive(payload, peer)
        else:
            self._held.append((payload, peer))

    def release(self) -> None:
        """The gate opened: handle what arrived while it was shut, in order."""
        held, self._held = self._held, []
        for payload, peer in held:
            self.receive(payload, peer=peer)

    def _frame_error(self, reason: str) -> None:
        self.host.emit(FRAME_ERROR, node=self.name, reason=reason)

    def _receive(self, payload: bytes, peer: str) -> None:
        try:
            msg = parse_envelope(json.loads(payload))
        except (ValueError, EnvelopeError) as exc:
            what = "not JSON" if not isinstance(exc, EnvelopeError) else "not an envelope"
            self._frame_error(f"frame from {peer} is {what} ({exc}); ignored")
            return
        if msg.dest != self.name:
            known = (
                "a node it does not know" if msg.dest not in self.host.roster else "another node"
            )
            self._frame_error(
                f"frame from {msg.src} names destination {msg.dest!r} ({known}), "
                f"but arrived at {self.name}; ignored"
            )
            return
        self.dispatch(msg)

    def dispatch(self, msg: Message) -> None:
        """Hand ``msg`` to the rpc waiting for it, or to its handler."""
        reply_to = msg.in_reply_to
        if reply_to is not None and reply_to in self._rpcs:
            pending = self._rpcs[reply_to]
            if pending.reply is None:
                pending.reply = msg
                pending.done.set()
            return
        method_name = type(self.node)._handlers.get(msg.type) if self.node else None
        if method_name is None or self.node is None:
            self._unhandled(msg)
            return
        if self._nursery is not None and not self.crashed:
            self._nursery.start_soon(self._run_handler, getattr(self.node, method_name), msg)

    async def _run_handler(self, fn: Callable[[Message], Awaitable[None]], msg: Message) -> None:
        try:
            await fn(msg)
        except BaseException as exc:
            self._crashed_in_node_code(exc, where=f"{fn.__name__} (a {msg.type!r} from {msg.src})")

    def _crashed_in_node_code(self, exc: BaseException, *, where: str) -> None:
        """What node code raised: a crash point reached (alone, or in the exception group of a
        nursery of the node's own) means the node is down already; any other error crashes it;
        anything else (a cancellation, an interrupt) goes on up."""
        if isinstance(exc, CrashPointReached) or (
            isinstance(exc, BaseExceptionGroup) and exc.subgroup(CrashPointReached) is not None
        ):
            return  # crashed already: the scope's cancel ends the rest
        if isinstance(exc, Exception):
            self.crash_with(exc, where=where)
            return
        raise exc

    def _unhandled(self, msg: Message) -> None:
        if msg.in_reply_to is not None:
            text = (
                f"late reply {msg.type!r} from {msg.src} to msg_id {msg.in_reply_to} "
                "ignored: its rpc already gave up"
            )
            level = "info"
        else:
            known = ", ".join(sorted(type(self.node)._handlers)) if self.node else ""
            text = (
                f"no handler for message type {msg.type!r} (from {msg.src}); ignored. "
                f"Handlers: {known or 'none'}"
            )
            level = "error"
        self.log(level, text)


def _name_of(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


def _peer_name(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
        return f"{host}:{port}"
    except OSError:
        return "an unknown peer"
