"""The node host: the process where a simulated run's node code runs, driven in lockstep.

Why a process of its own: a verdict must be decided by code the student cannot touch. The
trusted side (``_hosted.py``) keeps the clock, the network and its decisions, the trace and the
nodes' storage; this process only runs node code. Each step, the trusted side says "the time is
t: start, crash, pause these nodes, deliver these messages"; the host runs every node task until
all of them wait, and answers with what they did (messages sent, status, logs, timers, storage
writes, crashes) and when it next needs to run (its earliest timer). Time here stands still
between steps, so the host is as deterministic as the simulator itself.

The host is forked from the trusted process (it needs nothing loaded anew) and runs its own trio
loop in a fresh thread: the forking thread may be inside the trusted side's trio run, and the
main thread stays free to answer a signal that asks where a hung node is stuck.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import random
import signal
import sys
import threading
from collections import Counter
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import trio

from ._errors import BodyNotJSONError, NodeError
from ._framing import FrameDecoder, frame
from ._loading import NodeRef, compiled_files
from ._message import encode_json
from ._node import Node
from ._probes import nondeterminism_probe
from ._roster import Roster
from ._runner import NodeRunner
from ._seeds import derive_seed
from ._sim import deterministic_scheduling

#: messages one node may send in one step (one instant of virtual time) before the host stops
FLOOD_LIMIT = 20_000
#: the signal the trusted side sends a hung host: it answers with where it is stuck, and exits
WHERE_SIGNAL = signal.SIGUSR1
#: exit codes the trusted side reads
EXIT_DONE, EXIT_HUNG, EXIT_ENDED = 0, 75, 76
#: bytes per read from the pipe: well under malloc's mmap threshold (a 1 MiB buffer costs
#: an mmap and an munmap per read)
_READ_SIZE = 65536
_PACKAGE_DIR = str(Path(__file__).resolve().parent)
_TRIO_DIR = str(Path(trio.__file__).resolve().parent)
_real_exit = os._exit


@dataclass(frozen=True)
class HostSetup:
    seed: int
    config: dict[str, Any]
    zero: float  # the trusted clock's time at the cluster's t=0
    frame_limit: int
    storage_dir: Path


class _Flooded(BaseException):
    """Raised in a node that sent FLOOD_LIMIT messages without waiting: ends the step."""


class _StepClock(trio.abc.Clock):
    """Time as the trusted side says it is; remembers the earliest deadline trio asked about."""

    def __init__(self) -> None:
        self.t = 0.0
        self.next_deadline = math.inf

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return self.t

    def deadline_to_sleep_time(self, deadline: float) -> float:
        # trio asks this whenever no task can run: the last answer before all tasks wait is
        # the host's next timer.
        self.next_deadline = deadline
        return 0.0 if deadline <= self.t else 3600.0


class _StorageFiles(dict[Path, str]):
    """Node storage kept here for the running incarnation; each write becomes an effect."""

    def __init__(self, host: _Host) -> None:
        super().__init__()
        self._host = host

    def __setitem__(self, path: Path, text: str) -> None:
        super().__setitem__(path, text)
        self._host.effects.append(["store", path.stem, text])

    def keep(self, path: Path, text: str | None) -> None:
        """What the trusted side kept for a node that starts: no effect, it has it already."""
        super().pop(path, None)
        if text is not None:
            super().__setitem__(path, text)


class _Host:
    """The Host the node runners here live in (see ``_runner.Host``)."""

    def __init__(self, setup: HostSetup, clock: _StepClock, nursery: trio.Nursery) -> None:
        self.roster = Roster()
        self.config: Mapping[str, Any] = setup.config
        self.seed = setup.seed
        self.storage_dir = setup.storage_dir
        self._stored = _StorageFiles(self)
        self.storage_files: MutableMapping[Path, str] | None = self._stored
        self.frame_limit = setup.frame_limit
        self.effects: list[list[Any]] = []
        self.runners: dict[str, NodeRunner] = {}
        self._zero = setup.zero
        self._clock = clock
        self._nursery = nursery
        self._sent: Counter[str] = Counter()

    @property
    def transport(self) -> _Host:
        return self

    def now(self) -> float:
        return self._clock.t - self._zero

    def emit(self, kind: str, **fields: Any) -> None:
        self.effects.append(["emit", kind, fields])

    def cluster_for_provider(self, node: Node) -> None:
        """No provider's powers here: this process runs the lab's nodes, apart from the
        supervisor."""
        return None

    def node_crashed(self, runner: NodeRunner) -> None:
        if self.runners.get(runner.name) is runner:
            del self.runners[runner.name]

    def send(self, *, src: str, dest: str, body: dict[str, Any], mid: str) -> None:
        payload = encode_json(
            {"src": src, "dest": dest, "body": body}, what=f"the body of a message to {dest}"
        )
        self._sent[src] += 1
        self.effects.append(["send", src, mid, payload.decode()])
        if self._sent[src] > FLOOD_LIMIT:
            raise _Flooded(src)

    # -- inputs from the trusted side -----------------------------------------------------------

    def apply(self, item: list[Any]) -> None:
        what = item[0]
        if what == "roster":
            self.roster.replace_from({n: {"name": n, "role": r} for n, r in item[1].items()})
        elif what == "start":
            _, name, role, incarnation, path, class_name, stored = item
            # What the trusted side kept of the node's storage, read by the new incarnation.
            self._stored.keep(self.storage_dir / f"{name}.json", stored)
            runner = NodeRunner(
                name=name,
                role=role,
                node_class=NodeRef(Path(path), class_name),
                incarnation=incarnation,
                host=self,
            )
            self.runners[name] = runner
            self._nursery.start_soon(partial(runner.run, listen=False))
        elif what == "admit" or what == "resume":
            woken = self.runners[item[1]]
            woken.gate.open()
            woken.release()
        elif what == "pause":
            self.runners[item[1]].gate.shut()
        elif what == "crash_point":
            _, name, msg_type, nth = item
            self.runners[name].arm_crash_point(str(msg_type), int(nth))
        elif what == "kill":
            self.runners.pop(item[1]).cancel()
        elif what == "deliver":
            to = self.runners.get(item[1])
            if to is not None and not to.crashed:
                to.receive(item[2].encode(), peer="the network")
        else:
            raise ValueError(f"unknown host input {what!r}")

    def begin_step(self) -> None:
        self._sent.clear()


class _Channel:
    """Frames over two pipes; reads block (the host has nothing else to do meanwhile)."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self.write_fd = write_fd
        self._decoder = FrameDecoder(limit=1 << 30)
        self._ready: list[bytes] = []

    def read(self) -> dict[str, Any] | None:
        while not self._ready:
            data = os.read(self._read_fd, _READ_SIZE)
            if not data:
                return None
            self._ready += self._decoder.feed(data)
        message: dict[str, Any] = json.loads(self._ready.pop(0))
        return message

    def write(self, message: dict[str, Any]) -> None:
        data = frame(json.dumps(message, separators=(",", ":")).encode())
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view) :]


async def _serve(setup: HostSetup, channel: _Channel, clock: _StepClock) -> None:
    # Imported here, not at the top: trio.testing imports pytest, and every live node process
    # imports this module (for where_stuck) without ever serving a step.
    from trio.testing import wait_all_tasks_blocked

    with nondeterminism_probe() as calls:
        reported = 0
        compiled = len(compiled_files())  # the files compiled here (for the trusted side)
        async with trio.open_nursery() as nursery:
            host = _Host(setup, clock, nursery)
            while (request := channel.read()) is not None:
                clock.t = request["t"]
                host.begin_step()
                for item in request["inputs"]:
                    host.apply(item)
                await wait_all_tasks_blocked()
                effects, host.effects = host.effects, []
                new_calls = [c.describe() for c in calls[reported:]]
                reported = len(calls)
                deadline = clock.next_deadline
                answer = {
                    "effects": effects,
                    "next": None if math.isinf(deadline) else deadline,
                    "calls": new_calls,
                }
                if len(compiled_files()) > compiled:
                    answer["compiled"] = [str(p) for p in compiled_files()[compiled:]]
                    compiled = len(compiled_files())
                channel.write(answer)
            nursery.cancel_scope.cancel()


def describe_frame(frame_: FrameType | None) -> str:
    """Where running node code is, in words: the node, what it was doing, and file:line."""
    return where_stuck(frame_)[1]


def where_stuck(frame_: FrameType | None) -> tuple[str | None, str]:
    """The node whose code ``frame_`` runs (None if no node's), and where it is, in words."""
    stack = []
    while frame_ is not None:
        stack.append(frame_)
        frame_ = frame_.f_back
    return _where(stack[::-1])


def describe_stack(stack: list[FrameType]) -> str:
    """The same for a stack given outermost first (a traceback's frames)."""
    return _where(stack)[1]


def _where(stack: list[FrameType]) -> tuple[str | None, str]:
    student = node = doing = None
    for frame_ in stack:
        filename = frame_.f_code.co_filename
        trusted = filename.startswith((_PACKAGE_DIR, _TRIO_DIR, sys.prefix, sys.base_prefix))
        if not trusted:
            student = f"{filename}:{frame_.f_lineno}"
        runner = frame_.f_locals.get("self")
        if isinstance(runner, NodeRunner):
            node = runner.name
            local = frame_.f_locals
            if frame_.f_code.co_name == "_run_handler":
                msg = local.get("msg")
                fn = getattr(local.get("fn"), "__name__", "a handler")
                doing = f"in {fn}" + (f" (a {msg.type!r} from {msg.src})" if msg else "")
            elif frame_.f_code.co_name == "_run_task":
                doing = f"in {local.get('where')}"
            elif frame_.f_code.co_name == "run":
                doing = "while its object was being created (__init__)"
    words = f"node {node}" if node else "node code"
    if doing:
        words += f" {doing}"
    if student:
        words += f", at {student}"
    return node, words


def run_host(read_fd: int, write_fd: int, setup: HostSetup) -> None:
    """The host's whole life, in the forked child; never returns."""
    # The objects inherited from the trusted process are never collected here: a collection
    # would walk them all, and copy every page they sit on (fork's copy-on-write).
    gc.freeze()
    code = EXIT_DONE
    try:
        _become_host(read_fd, write_fd)
        channel = _Channel(read_fd, write_fd)
        outcome: dict[str, Any] = {}
        thread = threading.Thread(
            target=_run_loop, args=(setup, channel, outcome), name="distlab-host"
        )

        def where(signum: int, frame_: FrameType | None) -> None:
            stuck = sys._current_frames().get(thread.ident or -1)
            channel.write({"hung": describe_frame(stuck)})
            _real_exit(EXIT_HUNG)

        signal.signal(WHERE_SIGNAL, where)
        _watch_exits(channel)
        thread.start()
        thread.join()
        if "ended" in outcome:
            channel.write({"ended": outcome["ended"]})
            code = EXIT_ENDED
    except BaseException:
        code = EXIT_ENDED
    finally:
        _real_exit(code)


def _become_host(read_fd: int, write_fd: int) -> None:
    keep = {0, 1, 2, read_fd, write_fd}
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trusted side's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Fresh stream objects: a lock held by another thread of the parent is never released here.
    sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115


def _watch_exits(channel: _Channel) -> None:
    """``os._exit`` in node code: say who called it before the process goes."""

    def reporting_exit(code: int) -> None:
        where = describe_frame(sys._getframe(1))
        try:
            channel.write({"ended": f"{where} called os._exit({code})"})
        finally:
            _real_exit(code)

    os._exit = reporting_exit  # type: ignore[assignment]


def _run_loop(setup: HostSetup, channel: _Channel, outcome: dict[str, Any]) -> None:
    # Unseeded `random` is still reproducible here (and reported as nondeterministic).
    random.seed(derive_seed(setup.seed, "host-random"))
    try:
        with deterministic_scheduling(derive_seed(setup.seed, "host")):
            clock = _StepClock()
            trio.run(_serve, setup, channel, clock, clock=clock)
    except BaseException as exc:
        outcome["ended"] = _ending_words(exc)


def _ending_words(exc: BaseException) -> str:
    leaves = [exc]
    while any(isinstance(leaf, BaseExceptionGroup) for leaf in leaves):
        leaves = [
            sub
            for leaf in leaves
            for sub in (leaf.exceptions if isinstance(leaf, BaseExceptionGroup) else [leaf])
        ]
    leaf = next((x for x in leaves if not isinstance(x, trio.Cancelled)), leaves[0])
    stack = []
    tb = leaf.__traceback__
    while tb is not None:
        stack.append(tb.tb_frame)
        tb = tb.tb_next
    where = describe_stack(stack)
    if isinstance(leaf, _Flooded):
        return f"flood: {where} sent over {FLOOD_LIMIT:,} messages without waiting"
    if isinstance(leaf, SystemExit):
        return f"{where} called sys.exit({leaf.code!r})"
    if isinstance(leaf, BodyNotJSONError | NodeError):
        return f"{where}: {leaf}"
    return f"{where} raised {type(leaf).__name__}: {leaf}"
