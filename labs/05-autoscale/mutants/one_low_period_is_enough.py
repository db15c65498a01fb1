"""Mutant: the metrics service raises the alarm "low" after one period of low load, as it does
"high" after high_periods: no hysteresis in time.

Aimed at test_oscillating_load_does_not_flap. Every trough of an oscillating load scales the
fleet in, and the next peak scales it out again.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Instance = solution.Instance
LoadBalancer = solution.LoadBalancer
Autoscaler = solution.Autoscaler


class Metrics(solution.Metrics):
    async def evaluate(self) -> None:
        load = self.fleet_load()
        if load is None:
            self.high_streak = self.low_streak = 0
            self.publish(None, "no data")
            return
        self.high_streak = self.high_streak + 1 if load > self.config["high_load"] else 0
        self.low_streak = self.low_streak + 1 if load < self.config["low_load"] else 0
        alarm = "ok"
        if self.high_streak >= self.config["high_periods"]:
            alarm = "high"
        elif self.low_streak >= 1:  # one low period is enough
            alarm = "low"
        self.publish(load, alarm)
        if alarm != "ok":
            self.send("autoscaler", {"type": "alarm", "alarm": alarm, "load": round(load, 3)})
