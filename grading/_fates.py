"""The trace's central invariant: every message copy has exactly one fate."""

from __future__ import annotations

from collections.abc import Iterable

from distlab._fates import FateLedger
from distlab._trace import TraceEvent


def check_message_fates(events: Iterable[TraceEvent], *, run_ended: bool = True) -> list[str]:
    """Problems with message fates, in plain words; an empty list means the trace is sound.

    Each ``send`` (and each ``duplicate`` copy) must be followed by exactly one ``deliver``,
    ``drop`` or ``lost``. For a finished run (``run_ended``), nothing may be left in flight.
    """
    ledger = FateLedger().observe_all(events)
    problems = list(ledger.problems)
    if run_ended:
        for (mid, copy), sent in sorted(ledger.pending.items()):
            problems.append(
                f"message {mid} copy {copy} ({sent['src']} -> {sent['dest']}, sent at "
                f"t={sent.t:.3f}) has no fate: neither delivered, dropped nor lost"
            )
    return problems
