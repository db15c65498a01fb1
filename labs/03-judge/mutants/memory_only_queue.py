"""Mutant: the queue keeps its submissions in memory only.

Aimed at test_the_queue_survives_a_crash_and_restart. Nothing is lost until the queue itself
crashes: then every submission waiting in it is gone, although each was confirmed.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
LoadBalancer = solution.LoadBalancer
Judge = solution.Judge
Dashboard = solution.Dashboard


class Queue(solution.Queue):
    def save(self) -> None:
        pass  # "memory is fast enough"
