"""Mutant: after a restart the autoscaler takes the fleet to be the initial one, instead of
asking the cloud.

Aimed at test_the_fleet_stays_within_its_bounds. Restarted with a fleet at max_instances, it
counts min_instances, and launches past the maximum.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
LoadBalancer = solution.LoadBalancer
Metrics = solution.Metrics


class Autoscaler(solution.Autoscaler):
    async def start(self) -> None:
        self.fleet = self.nodes_with_role("instance")[: self.config["min_instances"]]
        self.ready.set()
        self.publish()
        self.every(self.config["check_interval"], self.check_targets)
