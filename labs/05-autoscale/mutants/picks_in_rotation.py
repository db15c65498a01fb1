"""Mutant: the lb hands requests to the instances in service in rotation (round robin), without
looking at how many requests each has in flight.

Aimed at test_a_load_ramp_is_met_by_scaling_out. Once the fleet has scaled out, a new instance
gets only its turn of the requests while the old ones still hold the queues the ramp built:
the lb sends requests to instances with several in flight while another has none.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
Metrics = solution.Metrics
Autoscaler = solution.Autoscaler


class LoadBalancer(solution.LoadBalancer):
    def pick(self) -> str | None:
        names = self.in_service()
        if not names:
            return None
        self.turn += 1
        return names[self.turn % len(names)]  # "round robin spreads the load evenly anyway"
