"""A node process (the "processes" placement): one node, its transport, and two pipes.

The supervisor starts ``python -m distlab._child CMD_FD EVENT_FD``. It reads commands (init,
admit, roster, faults, flush, stop) as frames from CMD_FD and writes batches of trace events to
EVENT_FD. Pipes rather than sockets: what a process wrote to a pipe before it died can still be
read, so a killed node's last events are not lost.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import trio

from ._errors import ImplementationError
from ._faults import FaultState
from ._framing import FrameDecoder, frame
from ._loading import load_node_class
from ._message import encode_json
from ._network import Network
from ._node import Node
from ._roster import Roster
from ._runner import NodeRunner
from ._trace import CRASH
from ._transport import LiveTransport
from ._watchdog import LoopWatchdog

#: Exit codes the supervisor understands.
EXIT_STOPPED, EXIT_IMPORT_FAILED, EXIT_NODE_CRASHED = 0, 3, 70
CONTROL_FRAME_LIMIT = 64 * 1024 * 1024
EVENT_FLUSH_INTERVAL = 0.02
#: seconds a flush waits for writes in progress to record their messages' fates
WRITES_RECORDED_WAIT = 1.0


class ChildHost:
    """The Host of the node runner inside a node process."""

    def __init__(self, init: Mapping[str, Any], events: trio.lowlevel.FdStream) -> None:
        self.roster = Roster()
        self.roster.replace_from(init["roster"])
        self.config: Mapping[str, Any] = init["config"]
        self.seed: int = init["seed"]
        self.storage_dir = Path(init["storage_dir"])
        self.storage_files: MutableMapping[Path, str] | None = None  # a process: real files
        self.frame_limit: int = init["frame_limit"]
        self.network = Network(seed=self.seed, state=FaultState.from_dict(init["faults"]))
        self._started_at: float = init["started_at"]
        self._events_stream = events
        self._events: list[list[Any]] = []
        self._write_lock = trio.Lock()
        self._transport: LiveTransport | None = None

    @property
    def transport(self) -> LiveTransport:
        assert self._transport is not None
        return self._transport

    def now(self) -> float:
        return time.monotonic() - self._started_at

    def emit(self, kind: str, **fields: Any) -> None:
        self._events.append([kind, self.now(), fields])

    def cluster_for_provider(self, node: Node) -> None:
        """No provider's powers here: this process runs the lab's nodes, apart from the
        supervisor."""
        return None

    def node_crashed(self, runner: NodeRunner) -> None:
        """The process exits once the runner returns; see ``_main``."""

    async def write(self, message: Mapping[str, Any]) -> None:
        async with self._write_lock:
            await self._events_stream.send_all(frame(encode_json(message, what="an event")))

    async def flush(self) -> None:
        if self._events:
            events, self._events = self._events, []
            # Shielded: a batch cut off halfway would lose its events and corrupt the pipe.
            with trio.CancelScope(shield=True):
                await self.write({"events": events})

    async def flush_forever(self) -> None:
        while True:
            await trio.sleep(EVENT_FLUSH_INTERVAL)
            await self.flush()


async def _frames(stream: trio.lowlevel.FdStream) -> AsyncIterator[dict[str, Any]]:
    decoder = FrameDecoder(limit=CONTROL_FRAME_LIMIT)
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return
        for payload in decoder.feed(data):
            yield json.loads(payload)


async def _main(cmd_fd: int, event_fd: int) -> int:
    commands = _frames(trio.lowlevel.FdStream(cmd_fd))
    init = await commands.__anext__()
    host = ChildHost(init, trio.lowlevel.FdStream(event_fd))
    name, incarnation = init["name"], init["incarnation"]
    try:
        node_class = load_node_class(Path(init["class_file"]), init["class_name"])
    except ImplementationError as exc:
        host.emit(CRASH, node=name, incarnation=incarnation, reason=str(exc))
        await host.flush()
        return EXIT_IMPORT_FAILED
    outcome = EXIT_STOPPED
    async with trio.open_nursery() as nursery:
        host._transport = LiveTransport(
            nursery=nursery,
            roster=host.roster,
            network=host.network,
            emit=host.emit,
            now=host.now,
            frame_limit=host.frame_limit,
            flush_events=host.flush,
        )
        runner = NodeRunner(
            name=name, role=init["role"], node_class=node_class, incarnation=incarnation, host=host
        )

        async def run_node(*, task_status: trio.TaskStatus[int]) -> None:
            nonlocal outcome
            await runner.run(task_status=task_status)
            outcome = EXIT_NODE_CRASHED
            nursery.cancel_scope.cancel()

        async def obey() -> None:
            async for command in commands:
                kind = command["cmd"]
                if kind == "admit":
                    runner.gate.open()
                elif kind == "roster":
                    host.roster.replace_from(command["roster"])
                elif kind == "faults":
                    host.network.replace_state(
                        FaultState.from_dict(command["state"]), command["description"]
                    )
                elif kind == "flush":  # Cluster.settle(): events first, then the answer
                    # A message already in its destination's socket has its fate recorded first
                    # (bounded: a write to a paused node's full socket may never end).
                    with trio.move_on_after(WRITES_RECORDED_WAIT):
                        await host.transport.writes_recorded()
                    await host.flush()
                    await host.write({"flushed": command["token"]})
                elif kind == "crash_point":
                    runner.arm_crash_point(str(command["type"]), int(command["nth"]))
                elif kind == "stop":
                    break
            nursery.cancel_scope.cancel()  # stopped, or the supervisor is gone

        nursery.start_soon(host.flush_forever)
        # A node that never yields would freeze this process unseen: a thread watches the loop
        # and stops such code with HungNodeStopped (the node then crashes, in words).
        watchdog = LoopWatchdog()
        nursery.start_soon(watchdog.tick)
        watchdog.watch_in_background()
        port = await nursery.start(run_node)
        await host.write({"ready": port})
        nursery.start_soon(obey)
    host.transport.close()
    with trio.CancelScope(shield=True):
        await host.flush()
    return outcome


def main() -> None:
    cmd_fd, event_fd = int(sys.argv[1]), int(sys.argv[2])
    sys.exit(trio.run(_main, cmd_fd, event_fd))


if __name__ == "__main__":
    main()
