"""Lab 0 whose server raises on the first ping after t=0.2 s: a crash the node brings on itself."""

from pathlib import Path

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parents[2] / "labs" / "00-ping" / "solution.py")

PingClient = solution.PingClient


class PingServer(solution.PingServer):
    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        if self.now() >= 0.2:
            raise RuntimeError("out of patience")
        await super().on_ping(msg)
