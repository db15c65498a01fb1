"""Mutant: the master computes a job's shares one after another, not all at once.

Aimed at test_workers_slower_than_the_timeout. Each share waits for the one before it: with one
crashed worker a job takes one timeout longer, still in time, but when every worker answers
late each share costs the whole wait, and the job takes three times as long as it should.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    async def on_sum(self, msg: Message) -> None:
        job = self.open_job(msg.body["numbers"])
        for share in range(len(job.shares)):
            await self.compute_share(job, share)  # no nursery: one share after the other
        self.close_job(job)
        self.reply(msg, {"type": "sum_ok", "job": job.id, "sum": job.total()})
