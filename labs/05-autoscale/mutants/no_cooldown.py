"""Mutant: the autoscaler acts on every alarm as soon as its previous action is done, without
a cooldown: "one action at a time is enough".

Aimed at test_a_step_of_load_is_not_overshot. A launch is done once its instances have booted,
but they show in the metrics only a report or two later: meanwhile the alarm "high" still
holds, on a load the new instances are about to take, and it launches again.
"""

from pathlib import Path

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
LoadBalancer = solution.LoadBalancer
Metrics = solution.Metrics


class Autoscaler(solution.Autoscaler):
    @handler("alarm")
    async def on_alarm(self, msg: Message) -> None:
        if not self.ready.is_set() or self.lock.locked():  # no cooling_until: no cooldown
            return
        if msg.body.get("alarm") == "high":
            await self.scale_out(float(msg.body.get("load", 0.0)))
        elif msg.body.get("alarm") == "low":
            await self.scale_in()
