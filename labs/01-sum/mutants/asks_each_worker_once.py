"""Mutant: the master asks each worker once for a share, not round and round until one answers.

Aimed at test_workers_slower_than_the_timeout. ``workers_for`` ends after one round of the
workers. When every worker answers later than three timeouts, ``compute_share`` runs out of
workers and returns with the share not counted, and the client is told the sum of the shares
that were: a wrong sum. With one slow or crashed worker another answers in time: it looks
correct.
"""

from collections.abc import Iterator
from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def workers_for(self, share: int) -> Iterator[str]:
        workers = self.nodes_with_role("worker")
        for turn in range(share, share + len(workers)):  # each worker once
            worker = workers[turn % len(workers)]
            if not self.is_suspected(worker) or all(self.is_suspected(w) for w in workers):
                yield worker
