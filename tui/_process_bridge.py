"""The app's end of a cluster that runs in a process of its own (``tui._cluster_process``).

The same narrow boundary as ``ClusterBridge``, which it stands in for in live placements: the app
takes events and notices at its own pace and sends commands that return at once. Only the
transport differs: lines on the child's stdout (read by a task on the app's loop, so the app's
thread does the JSON decoding, never the cluster's) and on its stdin. The cluster then has a
core and an interpreter of its own: the screen's redraws cannot slow it down.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import pickle
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

from distlab._cluster import Placement
from distlab._labs import Lab, ScenarioResult
from distlab._trace import TraceEvent

from ._bridge import STOP_TIMEOUT, Notice, _drain

#: lines of the cluster process's stderr kept, to say why it died if it does
STDERR_TAIL = 20
#: seconds the cluster process gets to exit once told to stop, before it is killed
KILL_AFTER = 2.0


class ProcessBridge:
    """The lab's cluster, run in a child process beside the app (see the module's doc)."""

    def __init__(
        self, lab: Lab, *, impl: Path | None, placement: Placement, seed: int, rate: float = 1.0
    ) -> None:
        self.lab = lab
        self.placement = placement
        self.seed = seed
        self.rate = rate
        # Loaded now, so that a student file that does not import fails before any screen.
        lab.cluster_spec(impl)
        # Pickled for the child (this process's own, trusted data: a Lab as loaded here).
        self._setup = base64.b64encode(
            pickle.dumps(
                {
                    "lab": lab,
                    "impl": impl and impl.resolve(),
                    "placement": placement,
                    "seed": seed,
                    "rate": rate,
                }
            )
        ).decode()
        #: the cluster's objects live in the other process
        self.cluster = None
        self.verdict: ScenarioResult | None = None
        self.started = False
        self.finished = False
        self.hung: str | None = None
        self.hung_node: str | None = None
        self._hung_told: str | None = None
        self._now: float | None = None
        #: the sequence number of the last event received: how many the cluster has recorded
        self.last_seq = 0
        self._events: deque[TraceEvent] = deque()
        self._notices: deque[Notice] = deque()
        self._stderr: deque[str] = deque(maxlen=STDERR_TAIL)
        self._process: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._done = asyncio.Event()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the cluster's process (call from inside the app's asyncio loop); once."""
        if self.started:
            return
        self.started = True
        self._tasks.append(asyncio.ensure_future(self._run()))

    async def _run(self) -> None:
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "distlab.tui._cluster_process",
                self._setup,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                limit=64 * 1024 * 1024,  # one event per line, however long
            )
        except OSError as exc:
            self._notices.append(Notice(f"the cluster could not start: {exc}", "error"))
            self._finish()
            return
        assert self._process.stdout is not None and self._process.stderr is not None
        stderr = asyncio.ensure_future(self._read_stderr(self._process.stderr))
        async for line in self._process.stdout:
            self._take(line)
        code = await self._process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await stderr
        if code != 0:
            tail = "\n".join(self._stderr)
            self._notices.append(
                Notice(f"the cluster's process ended with code {code}: {tail}", "error")
            )
        self._finish()

    def _take(self, line: bytes) -> None:
        kind, body = line[:1], line[1:]
        if kind == b"E":
            event = TraceEvent.from_json(body.decode())
            self.last_seq = event.seq
            self._events.append(event)
        elif kind == b"N":
            self._notices.append(Notice(**json.loads(body)))
        elif kind == b"S":
            state: dict[str, Any] = json.loads(body)
            self._now = state["now"]
            self.hung, self.hung_node = state["hung"], state["hung_node"]
            verdict = state["verdict"]
            self.verdict = None if verdict is None else ScenarioResult(**verdict)

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self._stderr.append(line.decode(errors="replace").rstrip())

    def _finish(self) -> None:
        self.finished = True
        self._done.set()

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the cluster and wait until its process has ended (killed after ``timeout``)."""
        if not self.started or self.finished:
            return
        process = self._process
        if process is None:  # not even started yet
            for task in self._tasks:
                task.cancel()
            self._finish()
            return
        self._send({"cmd": "stop"})
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
        except TimeoutError:
            if process is not None and process.returncode is None:
                process.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), KILL_AFTER)
            self._finish()

    def join(self, timeout: float) -> bool:
        """True once the cluster's process has ended (it is waited for in ``stop``)."""
        return self.finished

    @property
    def exit_code(self) -> int | None:
        """The cluster process's exit code once it has ended (0: it stopped cleanly)."""
        return None if self._process is None else self._process.returncode

    def check_alive(self) -> str | None:
        """Where the cluster was stuck, in words, the first time the cluster says a node hung."""
        if self.hung is not None and self.hung != self._hung_told:
            self._hung_told = self.hung
            return self.hung
        return None

    def now(self) -> float | None:
        """The cluster's time as of what it last said, or None before it runs."""
        return self._now

    # -- what happened ------------------------------------------------------------------------

    def take_events(self) -> list[TraceEvent]:
        """Every trace event since the last call, in order."""
        return _drain(self._events)

    def take_notices(self) -> list[Notice]:
        return _drain(self._notices)

    # -- commands: each returns at once; a failure becomes a notice (from the cluster) --------

    def crash(self, node: str) -> None:
        self._send({"cmd": "crash", "node": node})

    def restart(self, node: str) -> None:
        self._send({"cmd": "restart", "node": node})

    def toggle_pause(self, node: str) -> None:
        self._send({"cmd": "pause", "node": node})

    def isolate(self, node: str) -> None:
        self._send({"cmd": "isolate", "node": node})

    def heal(self) -> None:
        self._send({"cmd": "heal"})

    def adjust_fault(self, name: str, step: float) -> None:
        self._send({"cmd": "fault", "name": name, "step": step})

    def _send(self, command: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None or self.finished:
            what = command["cmd"] + (f" {command['node']}" if "node" in command else "")
            self._notices.append(Notice(f"cannot {what}: the cluster is not running", "warning"))
            return
        with contextlib.suppress(OSError, RuntimeError):  # it has just ended: said in _run
            process.stdin.write(json.dumps(command).encode() + b"\n")
