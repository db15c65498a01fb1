"""Mutant: the master saves its count of jobs to storage after it answers, not before.

Aimed at test_a_restarted_master_never_reuses_a_job_id, whose master crashes right after it
sends a ``sum_ok`` (a crash point), before it saves the count. The restarted master then gives
the id of the job it just answered to a new one, and a partial sum still on its way for the old
job is counted in the new: a wrong sum. Crashed while no job is running, it looks correct.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    def __init__(self) -> None:
        super().__init__()
        self.jobs_opened = 0

    async def on_start(self) -> None:
        self.jobs_opened = self.storage.get("jobs_opened", 0)
        await super().on_start()

    def new_job_id(self) -> str:
        self.jobs_opened += 1  # counted in memory only, for now
        return f"j{self.jobs_opened}"

    async def on_sum(self, msg: Message) -> None:
        await super().on_sum(msg)
        self.storage.put("jobs_opened", self.jobs_opened)  # answered: save the count
