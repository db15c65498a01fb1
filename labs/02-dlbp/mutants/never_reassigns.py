"""Mutant: a split whose mapper falls silent is sent to the same mapper again, forever.

Aimed at test_a_crashed_mappers_splits_are_reassigned. With lost messages only, retrying the same
worker works; with a crashed worker, the split is never mapped.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import RPCTimeoutError

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker
ReduceBalancer = solution.ReduceBalancer


async def see_split_mapped(self, plan, split):
    mapper = self.pick_mapper()
    while True:
        try:
            reply = await self.rpc(
                mapper, self.map_request(plan, split), timeout=self.config["map_timeout"]
            )
        except RPCTimeoutError:
            continue  # the same worker, again
        self.map_finished(plan, split, reply)
        return


class MapBalancer(solution.MapBalancer):
    see_split_mapped = see_split_mapped


class Master(solution.Master):
    see_split_mapped = see_split_mapped
