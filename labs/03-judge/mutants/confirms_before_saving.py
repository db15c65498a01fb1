"""Mutant: the queue confirms a submission (enqueue_ok) first, and saves it to storage after.

Aimed at test_a_crash_between_two_steps_loses_nothing. Both steps happen, so nothing is lost
unless the queue crashes between them: then the front end has given the contestant an id for a
submission that no storage holds.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
LoadBalancer = solution.LoadBalancer
Judge = solution.Judge
Dashboard = solution.Dashboard


class Queue(solution.Queue):
    @handler("enqueue")
    async def on_enqueue(self, msg: Message) -> None:
        submission = solution.submission_of(msg.body)
        self.reply(msg, {"type": "enqueue_ok", "id": submission["id"]})  # too early
        if submission["id"] not in self.submissions:
            self.submissions[submission["id"]] = submission
            self.save()
        self.publish_depth()
