"""The live transport: carries out the network layer's decisions over real TCP on loopback.

One ``LiveTransport`` serves every node in its OS process. A link towards each destination is a
queue ordered by delivery time plus one writer task, which keeps one connection to the
destination's current incarnation and writes everything that is due in one batch. Deciding and
recording each message's fate is shared with the simulator (see ``_carrier.py``); here,
``deliver`` means the frame was written to the destination node's socket.
"""

from __future__ import annotations

import heapq
import socket
from collections.abc import Awaitable, Callable

import trio

from ._carrier import Carrier, Emit, InFlight
from ._network import Network
from ._roster import NodeEntry, Roster
from ._trace import DELIVER, LOST

#: A link holding this many undelivered messages drops new ones (a flooding sender, or a
#: destination that stopped reading): memory stays bounded and the loss is recorded.
MAX_QUEUED_PER_LINK = 50_000


class LiveTransport(Carrier):
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
        super().__init__(
            roster=roster, network=network, emit=emit, now=now, frame_limit=frame_limit
        )
        self._nursery = nursery
        self._flush_events = flush_events
        self._links: dict[str, _Link] = {}
        self._writes = 0  # writes between send_all and the record of their fates
        self._no_writes = trio.Event()
        self._no_writes.set()

    async def writes_recorded(self) -> None:
        """Wait until no write is halfway: one that is has reached the destination's socket
        (whose node may already have answered) but not yet recorded its messages' fate.
        ``Cluster.settle`` waits for this before a node process ships its events."""
        await self._no_writes.wait()

    def _write_begins(self) -> None:
        self._writes += 1
        self._no_writes = trio.Event() if self._no_writes.is_set() else self._no_writes

    def _write_ends(self) -> None:
        self._writes -= 1
        if self._writes == 0:
            self._no_writes.set()

    def _carry(self, item: InFlight) -> None:
        link = self._links.get(item.dest)
        if link is None:
            link = self._links[item.dest] = _Link(self, item.dest)
            self._nursery.start_soon(link.run)
        if item.delay > 0 or not link.write_now(item):
            link.push(item)

    def close(self, reason: str = "the run ended while the message was in flight") -> None:
        """Stop sending; every message still queued is recorded as lost."""
        self.closed = True
        for link in self._links.values():
            link.abandon(reason)


class _Link:
    def __init__(self, transport: LiveTransport, dest: str) -> None:
        self._t = transport
        self._dest = dest
        self._queue: list[InFlight] = []
        self._writing: list[InFlight] = []
        self._wakeup = trio.Event()
        self._stream: trio.SocketStream | None = None
        self._stream_port: int | None = None
        # The connection's plain socket, for write_now(); and what a partial write left over.
        self._raw: socket.socket | None = None
        self._rest: bytes | None = None

    def push(self, item: InFlight) -> None:
        if len(self._queue) >= MAX_QUEUED_PER_LINK:
            self._t.fate(
                LOST,
                item,
                reason=f"link {item.src}->{self._dest} congested: {len(self._queue)} messages "
                f"already waiting (is {self._dest} paused, or is {item.src} flooding it?)",
            )
            return
        heapq.heappush(self._queue, item)
        self._wakeup.set()

    def write_now(self, item: InFlight) -> bool:
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
            self._t.fate(DELIVER, item, delay=0.0)
        return True

    def abandon(self, reason: str) -> None:
        for item in self._writing + self._queue:
            self._t.fate(LOST, item, reason=reason)
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

    async def _deliver(self, batch: list[InFlight]) -> None:
        ready = [item for item in batch if self._t.due(item)]
        entry = self._t._roster.get(self._dest)
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

    async def _write(self, stream: trio.SocketStream, data: bytes, ready: list[InFlight]) -> None:
        self._t._write_begins()
        try:
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
                self._t.fate(DELIVER, item, delay=round(item.delay, 6))
        finally:
            self._t._write_ends()
        if self._t._flush_events is not None:
            await self._t._flush_events()

    def abandon_writing(self, reason: str) -> None:
        for item in self._writing:
            self._t.fate(LOST, item, reason=reason)
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
