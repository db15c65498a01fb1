"""Mutant: the reducer keeps the map outputs it acknowledged in memory, not in storage.

Aimed at test_a_restarted_reducer_still_has_what_it_acknowledged. Nothing goes wrong until the
reducer crashes and comes back: its acknowledgements were promises kept only in memory, so the
outputs it said it held are gone, the reduce side does not send them again, and the job never
finishes.
"""

from pathlib import Path

from distlab import handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

MapBalancer = solution.MapBalancer
ReduceBalancer = solution.ReduceBalancer
Master = solution.Master


class Worker(solution.Worker):
    async def on_start(self):
        await super().on_start()
        self.reduce_inputs = {}  # job -> its outputs, by split: gone with a crash

    @handler("reduce_input")
    async def on_reduce_input(self, msg):
        job, split, splits = msg.body["job"], msg.body["split"], msg.body["splits"]
        inputs = self.reduce_inputs.setdefault(job, {})
        if str(split) not in inputs:  # a re-sent output is already here: nothing to write
            inputs[str(split)] = msg.body["counts"]
        self.status(reducing={"job": job, "have": len(inputs), "of": splits})
        answer = {"type": "reduce_input_ok", "job": job, "split": split}
        if len(inputs) == splits:
            answer["counts"] = solution.add_counts(inputs.values())
            self.status(reduced=job)
        self.reply(msg, answer)
