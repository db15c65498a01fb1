"""Mutant: the client saves a ping's seq as done before its pong has come back.

Aimed at test_a_crash_right_after_a_ping_skips_no_pong. Without a crash it looks correct; a
crash between the save and the pong skips that ping for good.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

PingServer = solution.PingServer


class PingClient(solution.PingClient):
    async def ping_all(self) -> None:
        wanted: int = self.config["pings"]
        pongs = self.load_progress()
        self.status(pongs=pongs, done=pongs >= wanted)
        for seq in range(pongs + 1, wanted + 1):
            self.save_progress(seq)  # too early: the pong is not back yet
            await self.ping_until_pong(seq)
            self.status(pongs=seq, done=seq >= wanted)
