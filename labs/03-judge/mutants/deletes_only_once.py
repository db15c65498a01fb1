"""Mutant: the queue's delete assumes the submission is still there.

Aimed at test_each_submission_is_recorded_once. A submission judged twice (the network
duplicates a judge request, or the queue handed it out again) is deleted twice, and so is one
whose delete was duplicated: the second delete finds nothing, and the queue crashes on it
(KeyError). Deleting what is gone must be harmless: answer delete_ok all the same.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
LoadBalancer = solution.LoadBalancer
Judge = solution.Judge
Dashboard = solution.Dashboard


class Queue(solution.Queue):
    async def on_delete(self, msg: Message) -> None:
        submission_id = msg.body["id"]
        del self.submissions[submission_id]  # a second delete raises KeyError
        self.save()
        self.hidden_until.pop(submission_id, None)
        self.reply(msg, {"type": "delete_ok", "id": submission_id})
        self.publish_depth()
