"""Mutant: the master never skips a worker that let a share time out.

Aimed at test_a_crashed_workers_share_is_reassigned. ``is_suspected`` compares the wrong way
round: a worker counts as suspected only once ``suspect_for`` seconds have passed since its
timeout, when it should be trusted again. So a crashed worker is sent the first try of its share
in every job, and every job waits a whole timeout for it. The sums stay exact.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def is_suspected(self, worker: str) -> bool:
        suspect_for: float = self.config["suspect_for"]
        since = self.suspected_since.get(worker)
        return since is not None and self.now() - since > suspect_for  # > where < belongs
