"""Mutant: the front end answers with the id first, and queues the submission afterwards.

Aimed at test_an_id_is_given_only_once_the_submission_is_queued. Every submission still gets
its verdict while nothing fails: but the client holds an id for a submission that, for a while,
nothing durable holds; a front end that dies then loses it.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Queue = solution.Queue
LoadBalancer = solution.LoadBalancer
Judge = solution.Judge
Dashboard = solution.Dashboard


class FrontEnd(solution.FrontEnd):
    @handler("submit")
    async def on_submit(self, msg: Message) -> None:
        submission = {
            "id": self.new_submission_id(),
            "problem": msg.body["problem"],
            "answers": msg.body["answers"],
        }
        self.reply(msg, {"type": "submit_ok", "id": submission["id"]})  # too early
        await self.enqueue(submission)
