"""A client that ends its process with os._exit(0) as soon as it starts: no pong is ever seen."""

import os

from distlab import Node


class PingServer(Node):
    pass


class PingClient(Node):
    async def on_start(self) -> None:
        os._exit(0)
