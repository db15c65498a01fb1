"""Mutant: the documents are cut into equal chunks, and the chunks' remainder is left out.

Aimed at test_part_a_two_load_balancers_count_exactly. With 12 documents and 8 splits, each
split gets 12 // 8 = 1 document, and the last 4 documents are never mapped: every job's count
is short, in both designs.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker
ReduceBalancer = solution.ReduceBalancer


def split_documents(documents, splits):
    n = max(1, min(splits, len(documents)))
    size = len(documents) // n
    return [documents[i * size : (i + 1) * size] for i in range(n)]


def start_job(self, job, documents, *, client):
    plan = solution.MapJob(job, client, split_documents(documents, self.config["splits"]))
    self.map_jobs[job] = plan
    self.status(accepted=job)
    for split in range(len(plan.splits)):
        self.spawn(self.see_split_mapped, plan, split)


class MapBalancer(solution.MapBalancer):
    start_job = start_job


class Master(solution.Master):
    start_job = start_job
