"""Mutant: the metrics service dates each sample by when its report arrived, not by when it was
taken (``t``): "it is the freshest news I have".

Aimed at test_missing_metrics_are_not_no_load. When the reports come 2.5 s late, every sample
it holds is 2.5 s old, yet it counts them as in the window: it reports a load (and raises
alarms on it) where it has no data about the present.
"""

from collections import deque
from pathlib import Path

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
LoadBalancer = solution.LoadBalancer
Autoscaler = solution.Autoscaler


class Metrics(solution.Metrics):
    @handler("report")
    async def on_report(self, msg: Message) -> None:
        self.samples.setdefault(msg.body["instance"], deque()).append(
            (self.now(), float(msg.body["load"]))  # when it arrived, not msg.body["t"]
        )
