"""Mutant: the master adds every partial sum it receives, even for a share already counted.

Aimed at test_each_share_is_counted_once. Without duplicates or late answers it looks correct.
"""

from pathlib import Path
from typing import Any

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def record_partial(self, job: Any, share: int, partial_sum: int, *, worker: str) -> None:
        job.sums[share] = job.sums.get(share, 0) + partial_sum  # no check: a repeat adds again
        self.status(counted=f"{job.id}:{share}")
        job.counted[share].set()
