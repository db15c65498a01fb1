"""Mutant: the metrics service counts no data as no load.

Aimed at test_missing_metrics_are_not_no_load. When the reports stop coming (the metrics service
cut off from the instances, or just restarted), the fleet load is 0.0, the alarm "low" goes off,
and the autoscaler scales in a fleet that is as busy as ever.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
LoadBalancer = solution.LoadBalancer
Autoscaler = solution.Autoscaler


class Metrics(solution.Metrics):
    def fleet_load(self) -> float | None:
        load = super().fleet_load()
        return 0.0 if load is None else load  # nothing reported: nothing to do
