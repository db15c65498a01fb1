"""A client that sends as fast as it can, forever, without ever letting time pass."""

from distlab import Node


class PingServer(Node):
    pass


class PingClient(Node):
    async def on_start(self) -> None:
        self.spawn(self.flood)

    async def flood(self) -> None:
        n = 0
        while True:
            n += 1
            self.send("server", {"type": "ping", "seq": n, "padding": "x" * 1000})
            if n % 100 == 0:
                await self.sleep(0)
