"""Mutant: a ping that gets no pong is given up on; the client moves on to the next one.

Aimed at test_lost_pings_are_retried. On a network that loses nothing it looks correct.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import RPCTimeoutError

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

PingServer = solution.PingServer


class PingClient(solution.PingClient):
    async def ping_until_pong(self, seq: int) -> None:
        try:
            await self.rpc("server", {"type": "ping", "seq": seq}, timeout=self.config["timeout"])
        except RPCTimeoutError:
            self.log.info(f"ping {seq} got no pong; moving on")
