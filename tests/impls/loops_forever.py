"""A server whose handler never returns and never awaits: the whole node process hangs."""

from distlab import Message, Node, handler


class PingServer(Node):
    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        while True:
            pass


class PingClient(Node):
    async def on_start(self) -> None:
        self.send("server", {"type": "ping", "seq": 1})
