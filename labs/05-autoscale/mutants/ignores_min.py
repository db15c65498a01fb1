"""Mutant: the autoscaler scales in without looking at min_instances.

Aimed at test_the_fleet_stays_within_its_bounds. With no load at all, the alarm "low" goes on
and on, and it terminates instance after instance, down to none.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
LoadBalancer = solution.LoadBalancer
Metrics = solution.Metrics


class Autoscaler(solution.Autoscaler):
    async def scale_in(self) -> None:
        async with self.lock:
            if not self.fleet:
                return
            victim = self.fleet[-1]
            await self.ask(
                "lb", {"type": "drain", "instance": victim}, timeout=self.config["drain_timeout"] + 1
            )
            await self.remove_instance(victim)
            self.cooling_until = self.now() + self.config["cooldown"]
            self.publish()
