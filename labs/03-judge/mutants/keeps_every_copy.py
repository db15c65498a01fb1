"""Mutant: the queue keeps a copy of a submission for every enqueue it gets, not one per id.

Aimed at test_a_submission_queued_twice_is_kept_once. When the front end asks again (the
queue's enqueue_ok was slow), the queue keeps the submission twice, under two keys, and hands
out both copies: two judges judge it at once. The dashboard records the first verdict only, and
a delete removes every copy, so nothing looks wrong but the judging done twice.
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
    async def on_enqueue(self, msg: Message) -> None:
        submission = solution.submission_of(msg.body)
        copies = sum(1 for s in self.submissions.values() if s["id"] == submission["id"])
        key = submission["id"] if copies == 0 else f"{submission['id']}+{copies}"
        self.submissions[key] = submission  # one more copy, whether or not it is there already
        self.save()
        self.reply(msg, {"type": "enqueue_ok", "id": submission["id"]})
        self.publish_depth()

    async def on_receive(self, msg: Message) -> None:
        # The reference, but hiding the copy it hands out (its key), not the id.
        key = next((k for k in self.submissions if self.is_visible(k)), None)
        if key is not None:
            self.hidden_until[key] = self.now() + self.config["visibility_timeout"]
        submission = self.submissions[key] if key is not None else None
        self.reply(msg, {"type": "receive_ok", "submission": submission})
        self.publish_depth()

    async def on_delete(self, msg: Message) -> None:
        submission_id = msg.body["id"]
        keys = [k for k, s in self.submissions.items() if s["id"] == submission_id]
        for key in keys:  # every copy
            del self.submissions[key]
            self.hidden_until.pop(key, None)
        if keys:
            self.save()
        self.reply(msg, {"type": "delete_ok", "id": submission_id})
        self.publish_depth()
