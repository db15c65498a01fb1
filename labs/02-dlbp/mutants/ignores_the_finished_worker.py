"""Mutant: the reducer is chosen at random among the workers, not the one that just finished.

Aimed at test_the_reducer_is_chosen_only_after_a_map_completes. The choice is late, as it should
be, and the counts stay exact; but the one thing the late choice knows (which worker is alive
and free right now) is thrown away.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker
MapBalancer = solution.MapBalancer


def choose_reducer(self, job, *, finished):
    return solution.ReduceBalancer.choose_reducer(self, job, finished=None)  # whoever finished


class ReduceBalancer(solution.ReduceBalancer):
    choose_reducer = choose_reducer


class Master(solution.Master):
    choose_reducer = choose_reducer
