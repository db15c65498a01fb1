"""A server whose handler blocks the whole process in time.sleep: nothing else can run."""

import time

from distlab import Message, Node, handler


class PingServer(Node):
    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        time.sleep(3600)


class PingClient(Node):
    async def on_start(self) -> None:
        self.send("server", {"type": "ping", "seq": 1})
