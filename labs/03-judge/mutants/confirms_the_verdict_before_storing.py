"""Mutant: the dashboard confirms a verdict (record_ok) first, and stores it after.

Aimed at test_a_crash_between_two_steps_loses_nothing. Both steps happen, so nothing is lost
unless the dashboard crashes between them: then the judge, told the verdict is kept, deletes the
submission from the queue, and the verdict is nowhere.
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
        submission_id, verdict = msg.body["id"], msg.body["verdict"]
        self.reply(msg, {"type": "record_ok", "id": submission_id})  # too early
        key = f"verdict/{submission_id}"
        first = self.storage.get(key)
        if first is None:
            self.storage.put(key, {"verdict": verdict, "judge": msg.src})
            self.verdicts += 1
            self.status(verdicts=self.verdicts, recorded=submission_id)
        else:
            self.log.info(
                f"{submission_id} judged again by {msg.src}; its verdict is already recorded "
                f"(by {first['judge']}): kept as it was"
            )
