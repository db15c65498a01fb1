"""The simulator: every node in one process, on virtual time, with every choice seeded.

Why this is reproducible: node code takes time, randomness and messages only from the runtime;
the network decides with per-link RNGs seeded from the run's seed; messages travel through one
queue ordered by (due time, send order) instead of sockets; and trio's scheduler, which normally
shuffles runnable tasks at random, is switched to its deterministic mode (the hook trio provides
for Hypothesis) with its RNG seeded from the run's seed. Timers and delays cost no wall time:
trio's ``MockClock`` jumps to the next deadline whenever every task is waiting.

The hook is private to trio, so ``tests/test_sim.py`` fails if a trio upgrade breaks it.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import trio

from ._carrier import Carrier, Emit, InFlight
from ._errors import DistlabError
from ._network import Network
from ._roster import Roster
from ._seeds import derive_seed
from ._trace import DELIVER

T = TypeVar("T")

#: A due time this close to now counts as now (float rounding of virtual deadlines).
_EPSILON = 1e-9


@contextmanager
def deterministic_scheduling(seed: int) -> Iterator[None]:
    """Make trio run runnable tasks in an order fixed by ``seed`` (within this block)."""
    from trio._core import _run

    if not hasattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING") or not hasattr(_run, "_r"):
        raise DistlabError(
            f"trio {trio.__version__} no longer offers the deterministic-scheduling hook "
            "distlab's simulator needs; install the trio version pinned in pyproject.toml"
        )
    previous = _run._ALLOW_DETERMINISTIC_SCHEDULING
    setattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING", True)  # noqa: B010 (a Final in trio)
    _run._r.seed(derive_seed(seed, "trio-scheduler"))
    try:
        yield
    finally:
        setattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING", previous)  # noqa: B010


def run_simulated(fn: Callable[..., Awaitable[T]], *args: Any, seed: int) -> T:
    """``trio.run(fn, *args)`` on virtual time with deterministic scheduling.

    Use it around ``open_cluster(..., placement="sim")``::

        async def main() -> None:
            async with open_cluster(spec, seed=7, placement="sim") as cluster:
                ...

        run_simulated(main, seed=7)
    """
    with deterministic_scheduling(seed):
        return trio.run(fn, *args, clock=_virtual_clock())


def _virtual_clock() -> trio.abc.Clock:
    # Imported here: trio.testing pulls in pytest, which live runs have no need to load.
    from trio.testing import MockClock

    return MockClock(autojump_threshold=0)


class PacedClock(trio.abc.Clock):
    """Virtual time that runs at wall speed while the run is idle, and stands still otherwise.

    Why not ``MockClock(rate=1)``: that one is the wall clock, so a run that falls behind (a
    busy machine, a screen redrawing in the same process) finds its deadlines already passed and
    its timers late against each other: leases lapse, leaders lose their followers. This one
    moves only while every task waits, and never past the next deadline: a run that falls behind
    slows down, and still sees each deadline at its exact time, one at a time.
    """

    def __init__(self, *, rate: float = 1.0) -> None:
        self._rate = rate
        self._virtual = 0.0
        self._idle_from: float | None = None  # wall time the loop went idle, while it is
        self._idle_virtual = 0.0
        self._limit = math.inf

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        if self._idle_from is not None:  # the first look after an idle spell ends it
            elapsed = (time.monotonic() - self._idle_from) * self._rate
            self._virtual = max(self._virtual, min(self._idle_virtual + elapsed, self._limit))
            self._idle_from = None
        return self._virtual

    def deadline_to_sleep_time(self, deadline: float) -> float:
        now = self.current_time()
        self._idle_from, self._idle_virtual, self._limit = time.monotonic(), now, deadline
        return max(0.0, (deadline - now) / self._rate)


def require_virtual_time() -> None:
    from trio.testing import MockClock

    if not isinstance(trio.lowlevel.current_clock(), MockClock | PacedClock):
        raise DistlabError(
            "the sim placement needs virtual time: run it inside distlab.run_simulated(...), "
            "or in a pytest-trio test that takes the autojump_clock fixture"
        )


class SimTransport(Carrier):
    """Carries messages through one queue ordered by (due time, send order): no sockets."""

    def __init__(
        self,
        *,
        nursery: trio.Nursery,
        roster: Roster,
        network: Network,
        emit: Emit,
        now: Callable[[], float],
        frame_limit: int,
        hand_over: Callable[[str, bytes], None],
    ) -> None:
        super().__init__(
            roster=roster, network=network, emit=emit, now=now, frame_limit=frame_limit
        )
        self._hand_over = hand_over
        self._queue: list[InFlight] = []
        self._wakeup = trio.Event()
        nursery.start_soon(self._run)

    def _carry(self, item: InFlight) -> None:
        heapq.heappush(self._queue, item)
        self._wakeup.set()

    def close(self, reason: str = "the run ended while the message was in flight") -> None:
        self.closed = True
        for item in sorted(self._queue):
            self.fate("lost", item, reason=reason)
        self._queue = []

    async def _run(self) -> None:
        while True:
            if self._queue:
                wait = self._queue[0].due - self._now()
                if wait <= _EPSILON:
                    self._deliver_due()
                    await trio.lowlevel.checkpoint()
                    continue
                with trio.move_on_after(wait):
                    await self._wakeup.wait()
            else:
                await self._wakeup.wait()
            self._wakeup = trio.Event()

    def _deliver_due(self) -> None:
        now = self._now() + _EPSILON
        while self._queue and self._queue[0].due <= now:
            item = heapq.heappop(self._queue)
            if self.due(item):
                self.fate(DELIVER, item, delay=round(item.delay, 6))
                self._hand_over(item.dest, item.data[4:])
