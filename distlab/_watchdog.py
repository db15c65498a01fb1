"""A trio loop run in a thread, watched from another: a node that never yields is named and
stopped instead of freezing whoever waits on the loop.

Why: in a live run with every node in one process, a handler with a loop and no ``await`` holds
the whole trio loop. The loop's own code cannot notice (it never gets to run), so the loop runs in
a thread of its own and marks itself alive every ``TICK_INTERVAL``; another thread (the screen's,
``distlab run``'s main thread, or a watcher in a node's process) checks the mark. The loop is
hung when, since its last mark, its thread has burned ``HUNG_AFTER`` seconds of CPU (a loop with
no await), or has not been runnable for ``BLOCKED_AFTER`` seconds (``time.sleep``, a blocking
read). CPU time and the thread's state, not wall time: a busy machine slows a node down, but
never makes it "hang". A hung loop's thread is looked at (which node, which handler, which
file:line) and a ``HungNodeStopped`` is raised in it at its next bytecode: the node crashes with
that reason, and the run goes on. A call blocked in C only sees the exception when it returns.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from collections.abc import Callable

import trio

from ._errors import NodeHungError
from ._host import where_stuck
from ._procfs import read_stat

#: How often the loop marks itself alive; how much CPU it may burn, or how long it may be
#: blocked, without a mark before it counts as hung.
TICK_INTERVAL = 0.1
HUNG_AFTER = 1.0
BLOCKED_AFTER = 3.0


class HungNodeStopped(NodeHungError):
    """Raised by distlab in node code that never yielded, to stop it."""

    #: where the code was stuck, file:line (set on the class raised: it is raised by type)
    at = ""

    def __init__(self, *args: object) -> None:
        words = f"it did not yield for over {HUNG_AFTER:g} s, so distlab stopped it"
        if self.at:
            words += f" (at {self.at})"
        super().__init__(*(args or (words,)))


def _stopper(where: str) -> type[HungNodeStopped]:
    """HungNodeStopped, saying where: an exception raised in another thread is given by type."""
    at = where.rsplit(", at ", 1)[1] if ", at " in where else ""
    return type("HungNodeStopped", (HungNodeStopped,), {"at": at})


class LoopWatchdog:
    """Run ``tick()`` in the watched trio loop; call ``check()`` from any other thread (or let
    ``watch_in_background()`` do it)."""

    def __init__(self) -> None:
        self._alive_at = time.monotonic()
        self._thread: threading.Thread | None = None
        self._native_id: int | None = None
        self._cpu_at_tick: float | None = None
        self._blocked_since: float | None = None
        self._reported = False  # the current silence was reported already

    async def tick(self, also: Callable[[], None] | None = None) -> None:
        """Mark the loop alive (and call ``also``) every TICK_INTERVAL, forever."""
        self._thread = threading.current_thread()
        self._native_id = threading.get_native_id()
        while True:
            self._alive_at = time.monotonic()
            # The thread's own clock: no file to read ten times a second (the check reads /proc,
            # in clock ticks: a few ms apart from this, against a bound of a second).
            self._cpu_at_tick = time.thread_time()
            self._blocked_since = None
            self._reported = False
            if also is not None:
                also()
            await trio.sleep(TICK_INTERVAL)

    def watch_in_background(self) -> None:
        """Check every TICK_INTERVAL from a daemon thread (where no thread waits on the loop)."""

        def watch() -> None:
            while True:
                time.sleep(TICK_INTERVAL)
                self.check()

        threading.Thread(target=watch, name="distlab-watchdog", daemon=True).start()

    def _stuck(self) -> bool:
        """Spinning (CPU since the last mark) or blocked (not runnable) for too long?"""
        stat = read_stat(os.getpid(), task=self._native_id) if self._native_id else None
        if stat is None or self._cpu_at_tick is None:  # no /proc: wall time is all there is
            return self.silent_for() > BLOCKED_AFTER
        if stat.cpu_seconds - self._cpu_at_tick >= HUNG_AFTER:
            return True
        if stat.state == "R":
            self._blocked_since = None
            return False
        if self._blocked_since is None:
            self._blocked_since = time.monotonic()
        return time.monotonic() - self._blocked_since >= BLOCKED_AFTER

    def silent_for(self) -> float:
        """Seconds since the loop last marked itself alive."""
        return time.monotonic() - self._alive_at

    def check(self) -> tuple[str | None, str] | None:
        """None while the loop ticks; else the node it is stuck in and where, said once per
        hang, after which the stuck code is stopped (see the module's doc)."""
        thread = self._thread
        if thread is None or thread.ident is None or not thread.is_alive():
            return None
        if self._reported or self.silent_for() < TICK_INTERVAL * 3 or not self._stuck():
            return None
        hang = where_stuck(sys._current_frames().get(thread.ident))
        self._reported = True  # once per silence: a call blocked in C stays stuck a while
        if hang[0] is not None:  # stuck in a node's code (never stop distlab's or trio's own)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(_stopper(hang[1]))
            )
        return hang
