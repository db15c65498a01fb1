"""Mutant: a worker that once let a share time out is suspected forever, even after a restart.

Aimed at test_a_restarted_worker_gets_work_again. Every sum stays exact: the other workers do
the work.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def is_suspected(self, worker: str) -> bool:
        return worker in self.suspected_since  # suspicion never expires
