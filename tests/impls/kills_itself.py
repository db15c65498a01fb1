"""A client that kills its own process with SIGKILL."""

import os
import signal

from distlab import Node


class PingServer(Node):
    pass


class PingClient(Node):
    async def on_start(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)
