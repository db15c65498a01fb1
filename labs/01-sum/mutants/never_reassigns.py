"""Mutant: the master never gives a share to another worker; it asks the same one again and again.

Aimed at test_a_crashed_workers_share_is_reassigned. It survives lost messages (asking again
works once the message gets through), but a crashed worker never answers, and the job never
ends.
"""

from collections.abc import Iterator
from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def workers_for(self, share: int) -> Iterator[str]:
        workers = self.nodes_with_role("worker")
        while True:
            yield workers[share % len(workers)]  # always the share's own worker
