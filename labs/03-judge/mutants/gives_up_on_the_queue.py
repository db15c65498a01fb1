"""Mutant: the front end asks the queue a few times only, then gives the id all the same.

Aimed at test_every_role_that_keeps_state_survives_a_restart. The judges give up after
``attempts`` tries, so why not the front end? Because its answer is a promise: when the queue is
down longer than those tries, the contestant gets an id for a submission that nothing holds.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import RPCTimeoutError

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Queue = solution.Queue
LoadBalancer = solution.LoadBalancer
Judge = solution.Judge
Dashboard = solution.Dashboard


class FrontEnd(solution.FrontEnd):
    async def enqueue(self, submission: solution.Submission) -> None:
        timeout: float = self.config["timeout"]
        for _ in range(self.config["attempts"]):  # a few times, as the judges do
            try:
                await self.rpc("queue", {"type": "enqueue", **submission}, timeout=timeout)
                return
            except RPCTimeoutError:
                self.log.info(f"the queue did not confirm {submission['id']}; asking again")
