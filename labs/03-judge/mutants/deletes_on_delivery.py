"""Mutant: the queue forgets a submission as soon as it hands it out (at-most-once delivery).

Aimed at test_a_judge_crashing_mid_judging_loses_nothing. It is the reviewed system's bug: the
submission lives only in the judge's memory while it is judged, and dies with the judge.
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
    @handler("receive")
    async def on_receive(self, msg: Message) -> None:
        submission = self.oldest_visible()
        if submission is not None:
            del self.submissions[submission["id"]]  # handed out: gone from the queue
            self.save()
        self.reply(msg, {"type": "receive_ok", "submission": submission})
        self.publish_depth()
