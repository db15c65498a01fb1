"""Mutant: the queue hands out its oldest submission without hiding it.

Aimed at test_each_submission_is_judged_once_on_a_healthy_network. Nothing is lost, and the
dashboard records each verdict once: but every free judge is handed the same submission, and
judges it, until one of them deletes it.
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
        self.reply(msg, {"type": "receive_ok", "submission": self.oldest_visible()})  # not hidden
        self.publish_depth()
