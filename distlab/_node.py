"""The node API: what students write.

A node is a subclass of :class:`Node`. The runtime creates it, hands it messages, and — when it
crashes — throws it away and creates a fresh one, so anything kept in ordinary attributes is lost
just as a real machine loses its memory. Only :attr:`Node.storage` survives.

Node code must take time and randomness from the node (:meth:`Node.now`, :meth:`Node.sleep`,
:attr:`Node.random`), never from ``time`` or ``random``: that is what lets the simulated runtime
replay a run exactly.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from ._message import Message

if TYPE_CHECKING:
    from ._runner import NodeRunner, TaskHandle
    from ._storage import Storage

_CURRENT_RUNNER: ContextVar[NodeRunner] = ContextVar("distlab_current_runner")
_HANDLES_ATTR = "__distlab_handles__"

HandlerT = TypeVar("HandlerT", bound=Callable[..., Awaitable[None]])


def handler(msg_type: str) -> Callable[[HandlerT], HandlerT]:
    """Mark an ``async`` method as the handler for messages of type ``msg_type``.

    Example::

        class Echo(Node):
            @handler("echo")
            async def on_echo(self, msg: Message) -> None:
                self.reply(msg, {"type": "echo_ok", "echo": msg.body["echo"]})
    """
    if not isinstance(msg_type, str) or not msg_type:
        raise TypeError(
            f"@handler needs a message type string, e.g. @handler('ping'), got {msg_type!r}"
        )

    def mark(fn: HandlerT) -> HandlerT:
        if not inspect.iscoroutinefunction(cast(Any, fn)):
            raise TypeError(f"handler {fn.__name__} for {msg_type!r} must be 'async def'")
        setattr(fn, _HANDLES_ATTR, msg_type)
        return fn

    return mark


class NodeLogger:
    """Log lines that land in the trace (and on screen), stamped with the node's time."""

    def __init__(self, runner: NodeRunner) -> None:
        self._runner = runner

    def debug(self, text: str) -> None:
        self._runner.log("debug", text)

    def info(self, text: str) -> None:
        self._runner.log("info", text)

    def warning(self, text: str) -> None:
        self._runner.log("warning", text)

    def error(self, text: str) -> None:
        self._runner.log("error", text)


class Node:
    """Base class for every node. Subclass it, and mark handlers with :func:`handler`.

    Example: a server that answers pings, and counts them in durable storage::

        class PingServer(Node):
            async def on_start(self) -> None:
                self.status(pings=self.storage.get("pings", 0))

            @handler("ping")
            async def on_ping(self, msg: Message) -> None:
                pings = self.storage.get("pings", 0) + 1
                self.storage.put("pings", pings)      # survives a crash
                self.status(pings=pings)              # shown in the TUI, read by checkers
                self.reply(msg, {"type": "pong"})

    Handlers run concurrently, one task per message. If a handler raises, this node crashes
    (the traceback goes to the trace and the screen) and the rest of the cluster carries on.
    """

    _handlers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            own: dict[str, str] = {}
            for name, value in vars(klass).items():
                msg_type = getattr(value, _HANDLES_ATTR, None)
                if msg_type is None:
                    continue
                if msg_type in own:
                    raise TypeError(
                        f"{klass.__name__} has two handlers for {msg_type!r}: "
                        f"{own[msg_type]} and {name}"
                    )
                own[msg_type] = name
            handlers.update(own)
        cls._handlers = handlers

    def __init__(self) -> None:
        runner = _CURRENT_RUNNER.get(None)
        if runner is None:
            raise RuntimeError(
                f"{type(self).__name__} objects are created by the distlab runtime: run them "
                "with `distlab run`, or in Python with distlab.open_cluster()"
            )
        self.__runner = runner
        self.__log = NodeLogger(runner)

    # -- who am I, who else is there --------------------------------------------------------

    @property
    def id(self) -> str:
        """This node's name, e.g. ``"worker-2"``."""
        return self.__runner.name

    @property
    def role(self) -> str:
        """This node's role in the lab, e.g. ``"worker"``."""
        return self.__runner.role

    @property
    def node_ids(self) -> list[str]:
        """Every node in the cluster, this one included, sorted (up or not)."""
        return self.__runner.host.roster.names()

    def nodes_with_role(self, role: str) -> list[str]:
        """The names of the nodes with ``role``, sorted: ``self.nodes_with_role("worker")``."""
        return self.__runner.host.roster.with_role(role)

    @property
    def config(self) -> Mapping[str, Any]:
        """The lab's parameters (from its spec), e.g. ``self.config["pings"]``."""
        return self.__runner.host.config

    # -- time, randomness, storage, logging -----------------------------------------------

    def now(self) -> float:
        """Seconds since the run started (virtual time in the simulator)."""
        return self.__runner.host.now()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (virtual time in the simulator)."""
        await self.__runner.sleep(seconds)

    @property
    def random(self) -> random.Random:
        """This node's seeded RNG: ``self.random.choice(self.node_ids)``."""
        return self.__runner.rng

    @property
    def storage(self) -> Storage:
        """Durable key-value storage: survives crash and restart. See :class:`Storage`."""
        return self.__runner.storage

    @property
    def log(self) -> NodeLogger:
        """``self.log.info("became leader")``: a line in the trace, stamped with node and time."""
        return self.__log

    def status(self, **fields: Any) -> None:
        """Publish state for the TUI and the checkers: ``self.status(role="leader", term=3)``.

        Fields accumulate: a later call updates the fields it names and keeps the others.
        """
        self.__runner.publish_status(fields)

    # -- messages ---------------------------------------------------------------------------

    def send(self, dest: str, body: Mapping[str, Any]) -> None:
        """Send ``body`` to ``dest`` and move on (no reply expected).

        ``self.send("server", {"type": "hello"})``. The runtime sets ``msg_id``.
        """
        self.__runner.send(dest, body)

    async def rpc(self, dest: str, body: Mapping[str, Any], *, timeout: float) -> Message:
        """Send ``body`` to ``dest`` and wait for the reply to it.

        Returns the reply; raises :class:`RPCTimeoutError` if none comes within ``timeout``
        seconds::

            try:
                reply = await self.rpc("server", {"type": "ping"}, timeout=0.5)
            except RPCTimeoutError:
                ...  # lost, slow, or the server is down: decide what to do
        """
        return await self.__runner.rpc(dest, body, timeout=timeout)

    def reply(self, msg: Message, body: Mapping[str, Any]) -> None:
        """Answer ``msg``: sends ``body`` back to its sender with ``in_reply_to`` set."""
        self.__runner.reply(msg, body)

    # -- timers and background work (all cancelled when the node crashes) ------------------

    def after(self, delay: float, fn: Callable[..., Awaitable[None]], *args: Any) -> TaskHandle:
        """Call ``await fn(*args)`` once, ``delay`` seconds from now. ``.cancel()`` stops it."""
        return self.__runner.after(delay, fn, args)

    def every(self, interval: float, fn: Callable[..., Awaitable[None]], *args: Any) -> TaskHandle:
        """Call ``await fn(*args)`` every ``interval`` seconds (first call after one interval).

        ``self.every(0.1, self.send_heartbeats)``
        """
        return self.__runner.every(interval, fn, args)

    def spawn(self, fn: Callable[..., Awaitable[None]], *args: Any) -> TaskHandle:
        """Run ``await fn(*args)`` in the background, e.g. a loop that retries until done."""
        return self.__runner.spawn(fn, args)

    # -- life cycle -----------------------------------------------------------------------

    async def on_start(self) -> None:
        """Called when the node starts or restarts. Override it to set up timers or work.

        It runs as its own task: messages are handled while it runs.
        """


def runner_of(node: Node) -> NodeRunner:
    """The runner that runs ``node`` (for distlab's own subclasses, such as ProviderNode)."""
    return node._Node__runner  # type: ignore[attr-defined,no-any-return]
