"""Mutant: a judge deletes the submission from the queue first, then records its verdict.

Aimed at test_a_crash_between_two_steps_loses_nothing. Both steps happen, so nothing is lost
while no judge crashes; a judge that dies between the two has removed the submission from the
queue with no verdict recorded, and nobody ever judges it again.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
LoadBalancer = solution.LoadBalancer
Dashboard = solution.Dashboard


class Judge(solution.Judge):
    async def judge_one(self, request: Message) -> None:
        submission = solution.submission_of(request.body)
        self.status(state="judging", judging=submission["id"])
        verdict = await self.run_sandbox(submission)
        if await self.delete(submission["id"]):  # the wrong way round: delete, then record
            await self.record(submission["id"], verdict)
        self.judged += 1
        self.status(state="idle", judging=None, judged=self.judged)
        self.reply(request, {"type": "judge_ok", "id": submission["id"], "verdict": verdict})
