"""Mutant: the autoscaler never replaces an unhealthy instance.

Aimed at test_a_crashed_or_wedged_instance_is_replaced. The lb takes the instance out of
service, but it stays in the fleet for good: the fleet serves with one instance fewer, and at
min_instances that is fewer than the minimum.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
LoadBalancer = solution.LoadBalancer
Metrics = solution.Metrics


class Autoscaler(solution.Autoscaler):
    async def check_targets(self) -> None:
        return  # "the lb already routes around it"
