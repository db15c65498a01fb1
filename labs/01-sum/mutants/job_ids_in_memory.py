"""Mutant: the master numbers its jobs from counters it keeps in memory only.

Aimed at test_a_restarted_master_never_reuses_a_job_id. The id is jobs done + jobs running + 1:
never repeated while the master runs, but a restarted master starts again at j1. A partial sum
its earlier incarnation asked for then arrives and is counted in the new j1, another client's
job: that client is told a wrong sum.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def new_job_id(self) -> str:
        return f"j{self.jobs_done + len(self.jobs) + 1}"  # the jobs so far, plus one
