"""Mutant: the lb hands a judge a new submission while it is still judging the last one.

Aimed at test_each_judge_has_one_submission_at_a_time. Every judge in the rotation counts as
free, busy or not, so the lb hands out submissions as fast as the queue gives them, round robin:
a judge gets a second (and third) while the first is still in its sandbox. Every verdict comes
back, right and recorded once, but the submissions pile up in the judges' inboxes, hidden in
the queue, while another judge may sit idle.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
Judge = solution.Judge
Dashboard = solution.Dashboard


class LoadBalancer(solution.LoadBalancer):
    def is_free(self, judge: str) -> bool:
        return judge in self.healthy  # busy or not
