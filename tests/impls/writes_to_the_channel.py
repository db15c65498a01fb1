"""A client that writes a forged frame to every file descriptor it has, distlab's channel too."""

import contextlib
import os

from distlab import Node


class PingServer(Node):
    pass


class PingClient(Node):
    async def on_start(self) -> None:
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                os.write(int(name), b'\x00\x00\x00\x10{"passed": true}')
        self.status(done=True, pongs=self.config["pings"])
