"""A trio loop run in a thread, watched from another: a node that never yields is named and
stopped instead of freezing whoever waits on the loop.

Why: in a live run with every node in one process, a handler with a loop and no ``await`` holds
the whole trio loop. The loop's own code cannot notice (it never gets to run), so the loop runs in
a thread of its own and marks itself alive every ``TICK_INTERVAL``; the thread that waits on it
(the screen's, or ``distlab run``'s main thread) checks the mark. Silent for ``HUNG_AFTER``, the
loop's thread is looked at (which node, which handler, which file:line) and a ``HungNodeStopped``
is raised in it at its next bytecode: the node crashes with that reason, and the run goes on.
A call blocked in C (``time.sleep``) only sees the exception when it returns.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections.abc import Callable

import trio

from ._errors import NodeHungError
from ._host import where_stuck

#: How often the loop marks itself alive, and how long it may be silent before it counts as hung.
TICK_INTERVAL = 0.1
HUNG_AFTER = 1.0


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
        self._reported = False  # the current silence was reported already
        #: every hang seen so far: (the node, or None if not a node's code; where, in words)
        self.hangs: list[tuple[str | None, str]] = []

    async def tick(self, also: Callable[[], None] | None = None) -> None:
        """Mark the loop alive (and call ``also``) every TICK_INTERVAL, forever."""
        self._thread = threading.current_thread()
        while True:
            self._alive_at = time.monotonic()
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

    def silent_for(self) -> float:
        """Seconds since the loop last marked itself alive."""
        return time.monotonic() - self._alive_at

    def check(self) -> tuple[str | None, str] | None:
        """None while the loop ticks; else the node it is stuck in and where, said once per
        hang, after which the stuck code is stopped (see the module's doc)."""
        thread = self._thread
        if thread is None or thread.ident is None or not thread.is_alive():
            return None
        if self._reported or self.silent_for() < HUNG_AFTER:
            return None
        hang = where_stuck(sys._current_frames().get(thread.ident))
        self.hangs.append(hang)
        self._reported = True  # once per silence: a call blocked in C stays stuck a while
        if hang[0] is not None:  # stuck in a node's code (never stop distlab's or trio's own)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(_stopper(hang[1]))
            )
        return hang
