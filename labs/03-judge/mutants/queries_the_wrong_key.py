"""Mutant: the dashboard stores each verdict under ``verdict/<id>``, and looks it up under ``<id>``.

Aimed at test_every_submission_gets_the_right_verdict. Every verdict is recorded, once, and the
trace's ``recorded`` says so; but a contestant who asks is always told that there is none yet.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
LoadBalancer = solution.LoadBalancer
Judge = solution.Judge


class Dashboard(solution.Dashboard):
    @handler("query")
    async def on_query(self, msg: Message) -> None:
        submission_id = msg.body["id"]
        recorded = self.storage.get(submission_id) or {}  # the key it was stored under: verdict/<id>
        self.reply(
            msg,
            {
                "type": "query_ok",
                "id": submission_id,
                "verdict": recorded.get("verdict"),
                "judge": recorded.get("judge"),
            },
        )
