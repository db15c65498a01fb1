"""Mutant: the master looks up the job of every partial sum without asking whether it is open.

Aimed at test_a_zombie_workers_answers_are_ignored. A partial sum for a job already answered (a
worker that froze and wakes up, a slow link) raises KeyError in on_partial_ok, and the master
crashes. Without late answers it looks correct.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    async def on_partial_ok(self, msg: Message) -> None:
        self.trust(msg.src)
        job = self.jobs[msg.body["job"]]  # KeyError once the job is answered
        self.record_partial(job, msg.body["share"], msg.body["sum"], worker=msg.src)
