"""Mutant: no anti-entropy: a replica counts on the copies the primary sends.

Aimed at test_stale_reads_are_bounded. The primary resends a copy only until write_quorum
replicas have it; a replica whose copy was lost stays behind for good, and answers old values
long after the write was acknowledged.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    def send_sync(self) -> None:
        pass  # "the primary sends every write already"
