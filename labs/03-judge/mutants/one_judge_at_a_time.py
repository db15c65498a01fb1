"""Mutant: the load balancer waits for each verdict before it takes the next submission.

Aimed at test_more_judges_judge_faster. Every verdict is right and recorded once, and the
judges take turns, but only one judges at any moment: three judges are no faster than one.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
Judge = solution.Judge
Dashboard = solution.Dashboard


class LoadBalancer(solution.LoadBalancer):
    async def dispatch_forever(self) -> None:
        while True:
            await self.wait_for_a_free_judge()
            submission = await self.take_submission()
            await self.wait_for_a_free_judge()
            judge = self.next_free_judge()
            self.busy.add(judge)
            await self.have_judged(judge, submission)  # waits: no other judge works meanwhile
