"""Mutant: the map side starts a job each time its submission arrives, repeats included.

Aimed at test_a_resubmitted_job_is_started_once. The counts stay exact (the reduce side keeps one
output per split), but a client whose confirmation (job_ok) comes late submits again, and every
submission maps every split once more: the work is done two, three times over.
"""

from pathlib import Path

from distlab import handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker
ReduceBalancer = solution.ReduceBalancer


@handler("job")
async def on_job(self, msg):
    job = msg.body["job"]
    self.start_job(job, msg.body["documents"], client=msg.src)  # known or not
    self.reply(msg, {"type": "job_ok", "job": job})


class MapBalancer(solution.MapBalancer):
    on_job = on_job


class Master(solution.Master):
    on_job = on_job
