"""Mutant: the autoscaler scales out without looking at max_instances.

Aimed at test_the_fleet_stays_within_its_bounds. Under a load more than the maximum fleet can
serve, it launches instances for as long as the alarm lasts.
"""

from pathlib import Path

import trio

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
LoadBalancer = solution.LoadBalancer
Metrics = solution.Metrics


class Autoscaler(solution.Autoscaler):
    async def scale_out(self, load: float) -> None:
        async with self.lock:
            async with trio.open_nursery() as nursery:
                for _ in range(self.steps_for(load)):  # "the alarm says we need more"
                    nursery.start_soon(self.add_instance)
            self.cooling_until = self.now() + self.config["cooldown"]
            self.publish()
