"""Mutant: the load balancer never reports the judges' health to the dashboard.

Aimed at test_the_dashboard_shows_each_judges_health. Routing is right; only the dashboard, the
one place an operator looks, keeps saying that every judge is fine.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
Judge = solution.Judge
Dashboard = solution.Dashboard


class LoadBalancer(solution.LoadBalancer):
    async def report_health(self) -> None:
        pass  # the lb knows; nobody else needs to
