"""Mutant: a silent reducer is replaced, but what it had acknowledged is not sent again.

Aimed at test_a_crashed_reducer_is_replaced_and_fed_again. The new reducer gets only the outputs
still on their way, never the ones the dead reducer held, and waits forever for them.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker
MapBalancer = solution.MapBalancer


def replace_reducer(self, job, *, failed):
    job.failed_reducers.append(failed)
    self.choose_reducer(job, finished=None)  # ... and job.acknowledged is left as it was


class ReduceBalancer(solution.ReduceBalancer):
    replace_reducer = replace_reducer


class Master(solution.Master):
    replace_reducer = replace_reducer
