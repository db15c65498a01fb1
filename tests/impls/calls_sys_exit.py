"""A server that calls sys.exit(3) when pinged."""

import sys

from distlab import Message, Node, handler


class PingServer(Node):
    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        sys.exit(3)


class PingClient(Node):
    async def on_start(self) -> None:
        self.send("server", {"type": "ping", "seq": 1})
