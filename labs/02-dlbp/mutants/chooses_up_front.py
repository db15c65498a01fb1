"""Mutant: the master picks each job's reducer up front, when the job arrives.

Aimed at test_the_reducer_is_chosen_only_after_a_map_completes. The counts stay exact: only the
moment of the choice is wrong (the pattern's whole point is to choose late).
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker
MapBalancer = solution.MapBalancer
ReduceBalancer = solution.ReduceBalancer


class Master(solution.Master):
    def start_job(self, job, documents, *, client):
        super().start_job(job, documents, client=client)
        splits = len(self.map_jobs[job].splits)
        self.choose_reducer(self.reduce_job(job, splits=splits, client=client), finished=None)
