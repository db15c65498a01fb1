"""The lab's cluster in a process of its own, for the TUI.

``python -m distlab.tui._cluster_process SETUP`` (SETUP: what ``ProcessBridge`` hands over:
the lab, the implementation, placement, seed, rate).

Why a process: the cluster and the screen each want a core. In one process they share one
interpreter lock, and a cluster running flat out kept a third of its speed under the screen. Here
the cluster runs in its own interpreter (a ``ClusterBridge``, as it would run in the app) and
this module only relays: every line it writes to stdout is one of

- ``E`` + a trace event's JSON line (``TraceEvent.to_json``);
- ``N`` + a notice ``{"text": ..., "severity": ...}``;
- ``S`` + the bridge's state when it changes: ``now``, ``hung``, ``hung_node``, ``verdict``;

and every line it reads from stdin is a command: ``{"cmd": "crash", "node": "server"}``,
``{"cmd": "fault", "name": "drop", "step": 0.05}``, ``{"cmd": "stop"}``. When stdin closes (the
app has gone, whatever the way), the cluster is stopped and the process exits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import pickle
import signal
import sys
from dataclasses import asdict
from typing import Any

from ._bridge import ClusterBridge

#: seconds between two relays of what the cluster did (the app redraws 15 times a second)
RELAY_INTERVAL = 0.02


class _Relay:
    def __init__(self, bridge: ClusterBridge, out: int) -> None:
        self.bridge = bridge
        self.out = os.fdopen(out, "wb")
        self._said: dict[str, Any] = {}

    def flush(self) -> None:
        """Write what happened since the last flush: events, notices, changed state."""
        self.bridge.check_alive()
        lines = []
        verdict = self.bridge.verdict
        state = {
            "now": self.bridge.now(),
            "hung": self.bridge.hung,
            "hung_node": self.bridge.hung_node,
            "verdict": None if verdict is None else asdict(verdict),
        }
        if state != self._said:  # before the events: a hang is said before its crash
            self._said = state
            lines.append(b"S" + json.dumps(state).encode())
        lines += [b"E" + e.to_json().encode() for e in self.bridge.take_events()]
        lines += [b"N" + json.dumps(asdict(n)).encode() for n in self.bridge.take_notices()]
        if lines:
            self.out.write(b"\n".join(lines) + b"\n")
            self.out.flush()

    async def run(self) -> None:
        while not self.bridge.finished:
            self.flush()
            await asyncio.sleep(RELAY_INTERVAL)


def _obey(bridge: ClusterBridge, command: dict[str, Any]) -> None:
    what, node = command.get("cmd"), str(command.get("node"))
    if what == "crash":
        bridge.crash(node)
    elif what == "restart":
        bridge.restart(node)
    elif what == "pause":
        bridge.toggle_pause(node)
    elif what == "isolate":
        bridge.isolate(node)
    elif what == "heal":
        bridge.heal()
    elif what == "fault":
        bridge.adjust_fault(str(command["name"]), float(command["step"]))


async def _serve(setup: dict[str, Any]) -> None:
    bridge = ClusterBridge(
        setup["lab"],
        impl=setup["impl"],
        placement=setup["placement"],
        seed=setup["seed"],
        rate=setup["rate"],
    )
    # What nodes print (in-process nodes share this process) goes to stderr, never into the
    # stream of events: the app reads stderr only for the last words of a process that died.
    relay = _Relay(bridge, os.dup(1))
    os.dup2(2, 1)
    bridge.start()
    relaying = asyncio.ensure_future(relay.run())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command.get("cmd") == "stop":
            break
        _obey(bridge, command)
    await bridge.stop()
    relaying.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await relaying
    relay.flush()  # the last events: the run's end


def main() -> None:
    # Ctrl-C is the app's to handle (it stops the cluster through stdin), not this process's.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The app's own setup (a Lab as it loaded it), pickled: see ProcessBridge.
    asyncio.run(_serve(pickle.loads(base64.b64decode(sys.argv[1]))))


if __name__ == "__main__":
    main()
