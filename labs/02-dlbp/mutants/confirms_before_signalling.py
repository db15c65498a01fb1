"""Mutant: in Part A a mapper confirms its split (map_ok) before its completion signal is kept.

Aimed at test_a_mapper_crashing_between_its_two_messages_loses_nothing. The map LB hears that
the split is done while its output is still only at the mapper; a mapper that crashes right
after its map_ok takes the output with it, nobody maps the split again, and the job never
finishes.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

MapBalancer = solution.MapBalancer
ReduceBalancer = solution.ReduceBalancer
Master = solution.Master


class Worker(solution.Worker):
    async def signal_completion(self, reduce_lb, done):
        # Sent in the background, and reported as confirmed at once: on_map sends its map_ok
        # before the reduce LB has so much as seen the output.
        self.spawn(super().signal_completion, reduce_lb, done)
        return True
