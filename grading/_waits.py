"""Waiting on the trace in a graded test: for an event to happen, and not past a crash.

Why a helper: a test that waits for something a student's node should do (a judge starts
judging, a worker acknowledges) should not sit out its whole bound when that node has already
crashed by itself. The wait ends at the crash, and the failure shows its traceback.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from distlab import TraceEvent
from distlab._cluster import Cluster

from ._checks import crashed_by_itself, no_crashes


async def first_event(
    cluster: Cluster, predicate: Callable[[TraceEvent], bool], *, seconds: float
) -> TraceEvent | None:
    """The first trace event that fits ``predicate``: recorded already, or within ``seconds``.

    Returns None if none comes in time (say why in your failure). A node that crashes by itself
    (its code raised) fails the test at once (``CheckFailed``, with the crash's traceback), as
    ``no_crashes`` does. Example::

        busy = await first_event(
            cluster, lambda e: e.kind == "status" and e["fields"].get("state") == "judging",
            seconds=3,
        )
    """
    found: TraceEvent | None = None
    for e in cluster.trace.events:
        if predicate(e):
            return e
        if crashed_by_itself(e):
            no_crashes([e])  # raises
    arrived = trio.Event()

    def watch(e: TraceEvent) -> None:
        nonlocal found
        if found is None and (predicate(e) or crashed_by_itself(e)):
            found = e
            arrived.set()

    unsubscribe = cluster.trace.subscribe(watch)
    try:
        with trio.move_on_after(seconds):
            await arrived.wait()
    finally:
        unsubscribe()
    if found is not None and not predicate(found):
        no_crashes([found])  # a crash by itself: raises, with its traceback
    return found
