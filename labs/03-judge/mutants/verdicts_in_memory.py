"""Mutant: the dashboard keeps the verdicts in a dict, in memory only.

Aimed at test_every_role_that_keeps_state_survives_a_restart. Every verdict is recorded once and
answered right, until the dashboard restarts: then every verdict it had is gone, and a contestant
who asks about a submission judged before the crash is told it has no verdict (yet).
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
    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[str, dict[str, str]] = {}  # id -> verdict and judge: "a dict will do"

    @handler("record")
    async def on_record(self, msg: Message) -> None:
        submission_id, verdict = msg.body["id"], msg.body["verdict"]
        first = self.kept.get(submission_id)
        if first is None:
            self.kept[submission_id] = {"verdict": verdict, "judge": msg.src}
            self.verdicts += 1
            self.status(verdicts=self.verdicts, recorded=submission_id)
        else:
            self.log.info(
                f"{submission_id} judged again by {msg.src}; its verdict is already recorded "
                f"(by {first['judge']}): kept as it was"
            )
        self.reply(msg, {"type": "record_ok", "id": submission_id})

    @handler("query")
    async def on_query(self, msg: Message) -> None:
        submission_id = msg.body["id"]
        recorded = self.kept.get(submission_id) or {}
        self.reply(
            msg,
            {
                "type": "query_ok",
                "id": submission_id,
                "verdict": recorded.get("verdict"),
                "judge": recorded.get("judge"),
            },
        )
