"""Lab 0 — ping: a client pings a server, and retries when a ping or its pong is lost.

Read labs/00-ping/README.md first. Run it with ``distlab run 0``; make the network lossy with
``distlab run 0 --drop 0.3`` and watch the retries.
"""

from distlab import Message, Node, RPCTimeoutError, handler


class PingServer(Node):
    """Answers every ``ping`` with a ``pong`` carrying the same ``seq``."""

    async def on_start(self) -> None:
        self.status(pings=0)
        self.pings = 0

    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        # SOLUTION: count the ping (status pings=...), answer with a pong carrying its seq
        self.pings += 1
        self.status(pings=self.pings)
        self.reply(msg, {"type": "pong", "seq": msg.body["seq"]})
        # END SOLUTION


class PingClient(Node):
    """Sends ``config["pings"]`` pings, one at a time, each retried until its pong comes back.

    Progress is kept in durable storage, so a client that crashes and restarts carries on from
    the last pong it got instead of starting over.
    """

    async def on_start(self) -> None:
        self.spawn(self.ping_all)

    async def ping_all(self) -> None:
        # SOLUTION: ping seqs 1..config['pings'] in turn, resuming; status pongs=, done=
        wanted: int = self.config["pings"]
        pongs = self.load_progress()
        self.status(pongs=pongs, done=pongs >= wanted)
        for seq in range(pongs + 1, wanted + 1):
            await self.ping_until_pong(seq)
            self.save_progress(seq)
            self.status(pongs=seq, done=seq >= wanted)
        # END SOLUTION

    async def ping_until_pong(self, seq: int) -> None:
        """Ping ``seq`` again and again until its pong arrives: silence may mean either was lost."""
        # SOLUTION: rpc a ping to the server; on RPCTimeoutError, try again
        timeout: float = self.config["timeout"]
        while True:
            try:
                await self.rpc("server", {"type": "ping", "seq": seq}, timeout=timeout)
                return
            except RPCTimeoutError:
                self.log.info(f"no pong for ping {seq} within {timeout} s; retrying")
        # END SOLUTION

    def load_progress(self) -> int:
        """How many pongs we had before the last crash (0 on the first start)."""
        # SOLUTION: read your progress from durable storage (0 if there is none)
        pongs: int = self.storage.get("pongs", 0)
        return pongs
        # END SOLUTION

    def save_progress(self, pongs: int) -> None:
        # SOLUTION: keep your progress in durable storage
        self.storage.put("pongs", pongs)
        # END SOLUTION
