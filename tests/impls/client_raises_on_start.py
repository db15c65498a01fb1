"""A client that raises as it starts: the run must say that, not only that no message was sent."""

from distlab import Message, Node, handler


class PingServer(Node):
    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        self.reply(msg, {"type": "pong", "seq": msg.body["seq"]})


class PingClient(Node):
    async def on_start(self) -> None:
        raise KeyError("seq")
