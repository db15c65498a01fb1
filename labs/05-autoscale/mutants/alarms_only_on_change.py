"""Mutant: the metrics service sends an alarm only when the alarm state changes.

Aimed at test_a_load_ramp_is_met_by_scaling_out. One "high" alarm launches one instance; while
the load stays high the alarm stays "high" and is never sent again, so the fleet grows by one
and no more, however far the load is past it.
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
        elif self.low_streak >= self.config["low_periods"]:
            alarm = "low"
        changed = alarm != getattr(self, "last_alarm", "ok")
        self.last_alarm = alarm
        self.publish(load, alarm)
        if alarm != "ok" and changed:  # only on the change: "it already knows"
            self.send("autoscaler", {"type": "alarm", "alarm": alarm, "load": round(load, 3)})
