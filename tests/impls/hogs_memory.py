"""A server that keeps everything it ever allocated: memory grows without bound."""

from distlab import Message, Node, handler


class PingServer(Node):
    async def on_start(self) -> None:
        self.hoard: list[bytes] = []
        self.spawn(self.hog)

    async def hog(self) -> None:
        while True:
            self.hoard.append(bytes(50 * 1024 * 1024))
            await self.sleep(0.001)

    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        self.reply(msg, {"type": "pong", "seq": msg.body["seq"]})


class PingClient(Node):
    async def on_start(self) -> None:
        self.send("server", {"type": "ping", "seq": 1})
