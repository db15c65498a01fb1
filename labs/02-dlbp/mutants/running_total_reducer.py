"""Mutant: the reducer adds each output it is sent to a running total, and counts deliveries.

Aimed at test_late_acknowledgements_do_not_count_twice. An output sent again (its
acknowledgement was late or lost, so the reduce side resent it) is added a second time, and
the job is "complete" as soon as as many deliveries as splits have arrived: the client gets
wrong counts.
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
        kept = self.storage.get(key, {"have": 0, "total": {}})
        kept["total"] = solution.add_counts([kept["total"], msg.body["counts"]])  # resent or not
        kept["have"] += 1
        self.storage.put(key, kept)
        self.status(reducing={"job": job, "have": kept["have"], "of": splits})
        answer = {"type": "reduce_input_ok", "job": job, "split": split}
        if kept["have"] >= splits:
            answer["counts"] = kept["total"]
            self.status(reduced=job)
        self.reply(msg, answer)
