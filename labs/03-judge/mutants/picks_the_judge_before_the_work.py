"""Mutant: the lb picks the next free judge first, then waits for a submission for it.

Aimed at test_no_work_goes_to_a_judge_out_of_the_rotation. Between the pick and the queue's
answer (the queue may be empty for seconds), the picked judge may freeze, crash or fall ill and
leave the rotation: the lb hands it the submission all the same.
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
            judge = self.next_free_judge()  # chosen now, used whenever the queue answers
            submission = await self.take_submission()
            self.assign(judge, submission)
