"""Mutant: the front end counts the ids it gave in memory only.

Aimed at test_every_role_that_keeps_state_survives_a_restart. Each id is new until the front end
restarts: then it counts from s1 again, and a new submission gets the id of an old one, whose
verdict the dashboard already keeps. Its contestant is told the old submission's verdict.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Queue = solution.Queue
LoadBalancer = solution.LoadBalancer
Judge = solution.Judge
Dashboard = solution.Dashboard


class FrontEnd(solution.FrontEnd):
    def __init__(self) -> None:
        super().__init__()
        self.ids_issued = 0  # "a counter is cheap: no need to store it"

    def new_submission_id(self) -> str:
        self.ids_issued += 1
        return f"s{self.ids_issued}"
