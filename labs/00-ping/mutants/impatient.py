"""Mutant: the client sends every ping twice, "just in case".

Aimed at test_one_ping_per_pong_on_a_healthy_network.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

PingServer = solution.PingServer


class PingClient(solution.PingClient):
    async def ping_until_pong(self, seq: int) -> None:
        self.send("server", {"type": "ping", "seq": seq})  # an extra one, just in case
        await super().ping_until_pong(seq)
