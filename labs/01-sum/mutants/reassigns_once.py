"""Mutant: a share that times out goes to the next worker, once; if that one is silent too,
the master gives up on the share.

Aimed at test_one_worker_is_enough. ``workers_for`` yields the share's own worker and the next
one, and stops. With two workers down, a share whose two workers are both down is never
counted, and the client is told the sum of the other shares: a wrong sum. With one worker down,
the next one answers, and it looks correct.
"""

from collections.abc import Iterator
from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def workers_for(self, share: int) -> Iterator[str]:
        workers = self.nodes_with_role("worker")
        for turn in (share, share + 1):  # its own worker, then the next one
            worker = workers[turn % len(workers)]
            if not self.is_suspected(worker) or all(self.is_suspected(w) for w in workers):
                yield worker
