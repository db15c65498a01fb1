"""Mutant: the reducer acknowledges a map output first, and writes it to storage after.

Aimed at test_a_restarted_reducer_still_has_what_it_acknowledged. A reducer that crashes between
the two steps has promised an output it never kept: after its restart it lacks that output, the
reduce side (which holds the acknowledgement) never sends it again, and the job never finishes.
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
        key = f"reduce/{job}"
        inputs = self.storage.get(key, {})
        is_new = str(split) not in inputs  # a re-sent output is already here: nothing to write
        if is_new:
            inputs[str(split)] = msg.body["counts"]
        self.status(reducing={"job": job, "have": len(inputs), "of": splits})
        answer = {"type": "reduce_input_ok", "job": job, "split": split}
        if len(inputs) == splits:
            answer["counts"] = solution.add_counts(inputs.values())
            self.status(reduced=job)
        self.reply(msg, answer)
        if is_new:
            self.storage.put(key, inputs)  # after the acknowledgement: too late
