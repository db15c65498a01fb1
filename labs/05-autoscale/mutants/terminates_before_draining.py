"""Mutant: scaling in terminates the instance at once, without draining it at the lb first.

Aimed at test_scaling_in_drains_first. The requests in flight on the instance are lost (the lb
answers them 502), and so are those the lb sends it until it is deregistered.
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
            if len(self.fleet) <= self.config["min_instances"]:
                return
            await self.remove_instance(self.fleet[-1])  # no drain: "it is idle anyway"
            self.cooling_until = self.now() + self.config["cooldown"]
            self.publish()
