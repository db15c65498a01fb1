"""Mutant: an instance passes its health check as long as its process answers at all.

Aimed at test_a_crashed_or_wedged_instance_is_replaced. A crashed instance still fails the check
(it does not answer); a wedged one passes it, stays in service, and its requests are lost.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
LoadBalancer = solution.LoadBalancer
Metrics = solution.Metrics
Autoscaler = solution.Autoscaler


class Instance(solution.Instance):
    def is_working(self) -> bool:
        return True  # "it answered, so it is up"
