"""Mutant: the master gives each job the first id no running job has, so ids come round again.

Aimed at test_a_zombie_workers_answers_are_ignored. Two running jobs never share an id, but once
j1 is answered the next job is j1 again. A worker that froze, was given up on and wakes up then
answers the old j1, and its partial sum is counted in the new j1, another client's job: a wrong
sum. Without late answers it looks correct.
"""

import itertools
from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def new_job_id(self) -> str:
        return next(f"j{n}" for n in itertools.count(1) if f"j{n}" not in self.jobs)
