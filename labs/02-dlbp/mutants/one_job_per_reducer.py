"""Mutant: a worker keeps the outputs of one job only: a new job's output replaces the last job's.

Aimed at test_concurrent_clients_with_a_crashed_worker. With one job at a time nothing goes
wrong. With several clients, two jobs can share a reducer: each output of one job wipes what
the reducer had acknowledged of the other, which then never finishes.
"""

from pathlib import Path

from distlab import handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

MapBalancer = solution.MapBalancer
ReduceBalancer = solution.ReduceBalancer
Master = solution.Master


class Worker(solution.Worker):
    @handler("reduce_input")
    async def on_reduce_input(self, msg):
        job, split, splits = msg.body["job"], msg.body["split"], msg.body["splits"]
        kept = self.storage.get("reduce", {"job": job, "inputs": {}})  # one key for every job
        if kept["job"] != job:
            kept = {"job": job, "inputs": {}}  # a new job: the last one must be finished
        inputs = kept["inputs"]
        if str(split) not in inputs:  # a re-sent output is already here: nothing to write
            inputs[str(split)] = msg.body["counts"]
            self.storage.put("reduce", kept)
        self.status(reducing={"job": job, "have": len(inputs), "of": splits})
        answer = {"type": "reduce_input_ok", "job": job, "split": split}
        if len(inputs) == splits:
            answer["counts"] = solution.add_counts(inputs.values())
            self.status(reduced=job)
        self.reply(msg, answer)
