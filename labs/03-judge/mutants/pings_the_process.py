"""Mutant: a judge passes its health check as long as its process answers at all.

Aimed at test_a_wedged_judge_leaves_the_rotation_and_comes_back. A crashed or frozen judge
still fails the check (it does not answer); a judge whose sandbox hangs passes it, and stays in
the rotation. That is the check the reviewed system did not have: it checked the service.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
LoadBalancer = solution.LoadBalancer
Dashboard = solution.Dashboard


class Judge(solution.Judge):
    def is_working(self) -> bool:
        return True  # "it answered, so it is up"
