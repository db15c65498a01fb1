"""Mutant: the lb puts every judge in the rotation from the start, before any health check.

Aimed at test_a_judge_gets_work_only_once_it_has_passed_a_health_check. Once the checks have
run, it is the reference: a judge that fails two of them leaves the rotation. But until then
the lb trusts every judge it has never heard from, and a judge that is frozen (or down) from the
start is given submissions as soon as they come.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
Judge = solution.Judge
Dashboard = solution.Dashboard


class LoadBalancer(solution.LoadBalancer):
    async def on_start(self) -> None:
        await super().on_start()
        self.healthy = set(self.nodes_with_role("judge"))  # trusted before any check
        self.notify_judges_changed()
