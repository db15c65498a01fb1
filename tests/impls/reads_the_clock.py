"""The reference lab 0, but the client's retry timeout comes from the wall clock and `random`."""

import random
import time

from distlab import Message, Node, RPCTimeoutError, handler


class PingServer(Node):
    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        self.reply(msg, {"type": "pong", "seq": msg.body["seq"]})


class PingClient(Node):
    async def on_start(self) -> None:
        self.spawn(self.ping_all)

    async def ping_all(self) -> None:
        started = time.time()
        for seq in range(1, self.config["pings"] + 1):
            while True:
                try:
                    timeout = 0.2 + random.random() / 10
                    await self.rpc("server", {"type": "ping", "seq": seq}, timeout=timeout)
                    break
                except RPCTimeoutError:
                    continue
            self.status(pongs=seq)
        self.status(done=True, wall=time.time() - started >= 0)
