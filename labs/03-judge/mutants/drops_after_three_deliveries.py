"""Mutant: the queue drops a submission it has handed out three times, "as poison".

Aimed at test_late_answers_from_the_queue_lose_nothing. Dead-letter queues do this on purpose: a
message that fails again and again is set aside. Here it is simply gone, although never judged:
each time the queue's answer to the lb comes too late, the lb asks again, the queue hands out
(and hides) one more submission, and the counts grow with no judge ever seeing them.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
LoadBalancer = solution.LoadBalancer
Judge = solution.Judge
Dashboard = solution.Dashboard

#: deliveries after which a submission is taken for poison and dropped
MAX_DELIVERIES = 3


class Queue(solution.Queue):
    def __init__(self) -> None:
        super().__init__()
        self.deliveries: dict[str, int] = {}  # id -> how many times it was handed out

    @handler("receive")
    async def on_receive(self, msg: Message) -> None:
        submission = self.oldest_visible()
        while submission is not None and self.deliveries.get(submission["id"], 0) >= MAX_DELIVERIES:
            self.log.warning(f"{submission['id']} handed out {MAX_DELIVERIES} times: dropped")
            del self.submissions[submission["id"]]  # the bug: never judged, yet gone
            self.save()
            submission = self.oldest_visible()
        if submission is not None:
            self.deliveries[submission["id"]] = self.deliveries.get(submission["id"], 0) + 1
            self.hidden_until[submission["id"]] = self.now() + self.config["visibility_timeout"]
        self.reply(msg, {"type": "receive_ok", "submission": submission})
        self.publish_depth()
