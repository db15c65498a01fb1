"""Mutant: the master credits every partial sum to its newest job, whichever job it names.

Aimed at test_concurrent_jobs_from_several_clients. With one request at a time, the newest job
is the only one, and it looks correct.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    @handler("partial_ok")
    async def on_partial_ok(self, msg: Message) -> None:
        self.trust(msg.src)
        if not self.jobs:
            return
        job = list(self.jobs.values())[-1]  # "the" current job: one context for all requests
        self.record_partial(job, msg.body["share"], msg.body["sum"], worker=msg.src)
