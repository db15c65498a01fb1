"""Mutant: an acknowledgement counts even when it comes from a reducer that was replaced meanwhile.

Aimed at test_a_replaced_reducer_that_wakes_up_changes_nothing. The reduce side replaces a
silent reducer, but an answer the old one sends when it wakes up is taken as the new reducer's:
that output is never sent to the new reducer, which then never has the whole job.
"""

from pathlib import Path

from distlab import RPCTimeoutError
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker
MapBalancer = solution.MapBalancer


async def deliver_output(self, job, split):
    timeout = self.config["timeout"]
    silences = 0
    while job.counts is None and split not in job.acknowledged:
        reducer = job.reducer
        request = {
            "type": "reduce_input",
            "job": job.job,
            "split": split,
            "splits": job.splits,
            "counts": job.outputs[split],
        }
        try:
            reply = await self.rpc(reducer, request, timeout=timeout)
        except RPCTimeoutError:
            if reducer != job.reducer:
                silences = 0  # replaced meanwhile (by another delivery): try the new one
                continue
            silences += 1
            if silences >= self.config["attempts"]:
                self.replace_reducer(job, failed=reducer)
                silences = 0
            continue
        # ... whoever answered: even a reducer replaced while we waited
        job.acknowledged.add(split)
        if "counts" in reply.body:
            self.finish(job, reply.body["counts"])


class ReduceBalancer(solution.ReduceBalancer):
    deliver_output = deliver_output


class Master(solution.Master):
    deliver_output = deliver_output
