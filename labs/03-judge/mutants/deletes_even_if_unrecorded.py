"""Mutant: a judge deletes the submission whether or not its verdict was recorded.

Aimed at test_every_role_that_keeps_state_survives_a_restart. The judge ignores what ``record``
returns: while the dashboard is down, every submission judged is deleted from the queue with no
verdict kept anywhere, and is never judged again.
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
        await self.record(submission["id"], verdict)  # "it tried its best"
        await self.delete(submission["id"])
        self.judged += 1
        self.status(state="idle", judging=None, judged=self.judged)
        self.reply(request, {"type": "judge_ok", "id": submission["id"], "verdict": verdict})
