"""Nodes that share state through module globals instead of messages, and keep it over a crash.

The client counts its starts in a module-level variable and takes pongs from the server's
module-level list without a single message: a real crash, or a real second machine, loses both.
"""

from distlab import Node

STARTS = 0
PONGS: list[int] = []


class PingServer(Node):
    async def on_start(self) -> None:
        PONGS.extend(range(1, self.config["pings"] + 1))
        self.status(shared=True)


class PingClient(Node):
    async def on_start(self) -> None:
        global STARTS
        STARTS += 1
        self.status(starts=STARTS)
        await self.sleep(0.05)
        self.status(pongs=len(PONGS), done=len(PONGS) >= self.config["pings"])
