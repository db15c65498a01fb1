"""Mutant: every split goes to the first worker that has not failed it: no load is balanced.

Aimed at test_work_is_spread_across_the_mappers. The counts stay exact, just slowly.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker
ReduceBalancer = solution.ReduceBalancer


def pick_mapper(self, *, avoid=()):
    workers = self.nodes_with_role("worker")
    return ([w for w in workers if w not in avoid] or workers)[0]


class MapBalancer(solution.MapBalancer):
    pick_mapper = pick_mapper


class Master(solution.Master):
    pick_mapper = pick_mapper
