"""The live transport: carries out the network layer's decisions over real TCP on loopback.

One ``LiveTransport`` serves every node in its OS process. For each message it asks the
``Network`` for a fate, records it, and hands the frame to the link towards the destination. A
link is a queue ordered by delivery time plus one writer task, which keeps one connection to the
destination's current incarnation and writes everything that is due in one batch.

Recorded fates:
- ``drop``: the network decided to lose it (random drop, or a partition, at send or in flight);
- ``deliver``: the frame was written to the destination node's socket;
- ``lost``: the destination was down (or unreachable) when the message was due, the link was
  congested, or the run ended with the message still in flight.
"""

from __future__ import annotations

import heapq
import itertools
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from ._framing import format_size, frame
from ._message import encode_json
from ._network import Network
from ._roster import NodeEntry, Roster
from ._trace import DELIVER, DROP, DUPLICATE, FRAME_ERROR, LOST, SEND

#: A link holding this many undelivered messages drops new ones (a flooding sender, or a
#: destination that stopped reading): memory stays bounded and the loss is recorded.
MAX_QUEUED_PER_LINK = 50_000

Emit = Callable[..., object]


@dataclass(order=True)
class _InFlight:
    due: float
    order: int
    src: str = field(compare=False)
    mid: str = field(compare=False)
    type: str = field(compare=False)
    copy: int = field(compare=False)
    delay: float = field(compare=False)
    data: bytes = field(compare=False)


class LiveTransport:
    def __init__(
        self,
        *,
        nursery: trio.Nursery,
        roster: Roster,
        network: Network,
        emit: Emit,
        now: Callable[[], float],
        frame_limit: int,
        flush_events: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._nursery = nursery
        self._roster = roster
        self._network = network
        self._emit = emit
        self._now = now
        self._frame_limit = frame_limit
        self._flush_events = flush_events
        self._links: dict[str, _Link] = {}
        self._order = itertools.count()
        self.closed = False

    def send(self, *, src: str, dest: str, body: dict[str, Any], mid: str) -> None:
        if self.closed:
            return
        if dest not in self._roster:
            self._emit(
                FRAME_ERROR,
                node=src,
                reason=f"message to unknown node {dest!r} rejected "
                f"(known nodes: {', '.join(self._roster.names())})",
            )
            return
        payload = encode_json(
            {"src": src, "dest": dest, "body": body}, what=f"the body of a message to {dest}"
        )
        if len(payload) > self._frame_limit:
            self._emit(
                FRAME_ERROR,
                node=src,
                reason=f"message to {dest} is {format_size(len(payload))}, over the "
                f"{format_size(self._frame_limit)} frame limit; not sent",
            )
            return
        self._emit(SEND, src=src, dest=dest, mid=mid, body=body)
        decision = self._network.decide(src, dest)
        if decision.drop_reason is not None:
            self._emit(
                DROP,
                src=src,
                dest=dest,
                mid=mid,
                type=body["type"],
                copy=0,
                reason=decision.drop_reason,
            )
            return
        link = self._links.get(dest)
        if link is None:
            link = self._links[dest] = _Link(self, dest)
            self._nursery.start_soon(link.run)
        data = frame(payload)
        now = self._now()
        for copy, delay in enumerate(decision.delays):
            if copy:
                self._emit(DUPLICATE, src=src, dest=dest, mid=mid, type=body["type"], copy=copy)
            item = _InFlight(
                now + delay, next(self._order), src, mid, body["type"], copy, delay, data
            )
            if delay > 0 or not link.write_now(item):
                link.push(item)

    def close(self, reason: str = "the run ended while the message was in flight") -> None:
        """Stop sending; every message still queued is recorded as lost."""
        self.closed = True
        for link in self._links.values():
            link.abandon(reason)

    def _fate(self, kind: str, item: _InFlight, dest: str, **extra: Any) -> None:
        self._emit(
            kind, src=item.src, dest=dest, mid=item.mid, type=item.type, copy=item.copy, **extra
        )


class _Link:
    def __init__(self, transport: LiveTransport, dest: str) -> None:
        self._t = transport
        self._dest = dest
        self._queue: list[_InFlight] = []
        self._writing: list[_InFlight] = []
        self._wakeup = trio.Event()
        self._stream: trio.SocketStream | None = None
        self._stream_port: int | None = None
        # The connection's plain socket, for write_now(); and what a partial write left over.
        self._raw: socket.socket | None = None
        self._rest: bytes | None = None

    def push(self, item: _InFlight) -> None:
        if len(self._queue) >= MAX_QUEUED_PER_LINK:
            self._t._fate(
                LOST,
                item,
                self._dest,
                reason=f"link {item.src}->{self._dest} congested: {len(self._queue)} messages "
                f"already waiting (is {self._dest} paused, or is {item.src} flooding it?)",
            )
            return
        heapq.heappush(self._queue, item)
        self._wakeup.set()

    def write_now(self, item: _InFlight) -> bool:
        """Write a zero-delay message straight to the socket, if nothing is ahead of it.

        Why: waking the link's writer task for every message costs a trip through trio's
        scheduler, which is most of a loopback round trip. When the link is idle and
        connected, a non-blocking send from the sender's own task does the same job. Whatever
        the socket does not take now (a full buffer) is finished by the writer task.
        """
        if self._raw is None or self._queue or self._writing or self._t._flush_events:
            return False
        entry = self._t._roster.get(self._dest)
        if entry is None or not entry.reachable or entry.port != self._stream_port:
            return False
        try:
            sent = self._raw.send(item.data)
        except OSError:  # would block, or broken: the writer task deals with it properly
            return False
        if sent < len(item.data):
            self._writing = [item]
            self._rest = item.data[sent:]
            self._wakeup.set()
        else:
            self._t._fate(DELIVER, item, self._dest, delay=0.0)
        return True

    def abandon(self, reason: str) -> None:
        for item in self._writing + self._queue:
            self._t._fate(LOST, item, self._dest, reason=reason)
        self._writing = []
        self._queue = []

    async def run(self) -> None:
        try:
            while True:
                if self._rest is not None:
                    rest, self._rest = self._rest, None
                    assert self._stream is not None
                    await self._write(self._stream, rest, self._writing)
                    continue
                if not self._queue:
                    await self._wakeup.wait()
                    self._wakeup = trio.Event()
                    continue
                wait = self._queue[0].due - self._t._now()
                if wait > 0:
                    with trio.move_on_after(wait):
                        await self._wakeup.wait()
                        self._wakeup = trio.Event()
                    continue
                now = self._t._now()
                batch = []
                while self._queue and self._queue[0].due <= now:
                    batch.append(heapq.heappop(self._queue))
                await self._deliver(batch)
        finally:
            if self._stream is not None:
                self._stream.socket.close()

    async def _deliver(self, batch: list[_InFlight]) -> None:
        entry = self._t._roster.get(self._dest)
        ready = []
        for item in batch:
            reason = self._t._network.blocked(item.src, self._dest)
            if reason is not None:
                self._t._fate(DROP, item, self._dest, reason=f"{reason}, cut in flight")
            elif entry is None or not entry.reachable:
                state = entry.state if entry else "gone"
                self._t._fate(LOST, item, self._dest, reason=f"{self._dest} was down ({state})")
            else:
                ready.append(item)
        if not ready or entry is None:
            return
        self._writing = ready
        stream = await self._connect(entry)
        if stream is None:
            return
        if self._t._flush_events is not None:
            # A node process ships its send events before the frames leave it, so a process
            # killed right after writing cannot leave a delivered message with no send event.
            await self._t._flush_events()
        await self._write(stream, b"".join(item.data for item in ready), ready)

    async def _write(self, stream: trio.SocketStream, data: bytes, ready: list[_InFlight]) -> None:
        try:
            await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._drop_stream()
            self.abandon_writing(f"the connection to {self._dest} broke ({exc})")
            return
        if self._writing is not ready:
            return  # the run ended while we wrote: abandon() already recorded these as lost
        self._writing = []
        for item in ready:
            self._t._fate(DELIVER, item, self._dest, delay=round(item.delay, 6))
        if self._t._flush_events is not None:
            await self._t._flush_events()

    def abandon_writing(self, reason: str) -> None:
        for item in self._writing:
            self._t._fate(LOST, item, self._dest, reason=reason)
        self._writing = []

    async def _connect(self, entry: NodeEntry) -> trio.SocketStream | None:
        if self._stream is not None and self._stream_port == entry.port:
            return self._stream
        self._drop_stream()
        assert entry.port is not None
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setblocking(False)
        sock = trio.socket.from_stdlib_socket(raw)
        try:
            await sock.connect(("127.0.0.1", entry.port))
        except OSError as exc:
            sock.close()
            self.abandon_writing(f"could not connect to {self._dest} ({exc.strerror or exc})")
            return None
        self._stream = trio.SocketStream(sock)  # sets TCP_NODELAY
        self._stream_port = entry.port
        self._raw = raw
        return self._stream

    def _drop_stream(self) -> None:
        if self._stream is not None:
            self._stream.socket.close()
        self._stream = None
        self._raw = None
        self._stream_port = None
