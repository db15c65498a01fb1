"""Mutant: the lb takes a draining instance out of the rotation and answers drain_ok at once,
without waiting for the requests in flight on it.

Aimed at test_scaling_in_drains_first. The autoscaler terminates the instance while it still
serves requests: those are lost.
"""

from pathlib import Path

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
Metrics = solution.Metrics
Autoscaler = solution.Autoscaler


class LoadBalancer(solution.LoadBalancer):
    @handler("drain")
    async def on_drain(self, msg: Message) -> None:
        name = msg.body["instance"]
        target = self.targets.get(name)
        if target is not None:
            target.draining = True
            self.publish()
        self.reply(msg, {"type": "drain_ok", "instance": name, "drained": True})
