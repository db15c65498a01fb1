"""Mutant: the lb frees a judge only when the judge answers judge_ok.

Aimed at test_a_frozen_judge_is_replaced_and_then_rejoins. On time, every judge answers, and all
is well. A judge that answers too late (frozen, or its answer slow) stays busy in the lb's books
for good: once it works again it passes every health check, and is never given work again.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import RPCTimeoutError

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
Judge = solution.Judge
Dashboard = solution.Dashboard


class LoadBalancer(solution.LoadBalancer):
    async def have_judged(self, judge: str, submission: solution.Submission) -> None:
        try:
            reply = await self.rpc(
                judge, {"type": "judge", **submission}, timeout=self.config["visibility_timeout"]
            )
            self.log.info(f"{judge} judged {submission['id']}: {reply.body.get('verdict')}")
            self.busy.discard(judge)  # only here: a judge that never answers stays busy
            self.notify_judges_changed()
        except RPCTimeoutError:
            self.log.info(
                f"{judge} did not finish {submission['id']} in time; the queue will hand it out "
                "again"
            )
