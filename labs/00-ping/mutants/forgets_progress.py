"""Mutant: the client keeps its progress in memory only, so a restart starts over at ping 1.

Aimed at test_progress_survives_a_client_crash.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

PingServer = solution.PingServer


class PingClient(solution.PingClient):
    def load_progress(self) -> int:
        return 0

    def save_progress(self, pongs: int) -> None:
        self.progress = pongs  # an attribute: gone with the crash
