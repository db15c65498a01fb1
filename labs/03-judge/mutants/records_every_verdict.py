"""Mutant: the dashboard records every verdict it is sent, also for a submission judged before.

Aimed at test_each_submission_is_recorded_once. With at-least-once delivery a submission can be
judged twice; this dashboard then records it twice.
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
    @handler("record")
    async def on_record(self, msg: Message) -> None:
        submission_id = msg.body["id"]
        self.storage.put(f"verdict/{submission_id}", {"verdict": msg.body["verdict"]})
        self.verdicts += 1
        self.status(verdicts=self.verdicts, recorded=submission_id)  # every time
        self.reply(msg, {"type": "record_ok", "id": submission_id})
