"""Mutant: the client sends every ping twice, "just in case".

Aimed at test_one_ping_per_pong_on_a_healthy_network."""

from distlab import Message, Node, RPCTimeoutError, handler


class PingServer(Node):
    """Answers every ``ping`` with a ``pong`` carrying the same ``seq``."""

    async def on_start(self) -> None:
        self.status(pings=0)
        self.pings = 0

    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        self.pings += 1
        self.status(pings=self.pings)
        self.reply(msg, {"type": "pong", "seq": msg.body["seq"]})


class PingClient(Node):
    """Sends ``config["pings"]`` pings, one at a time, each retried until its pong comes back.

    Progress is kept in durable storage, so a client that crashes and restarts carries on from
    the last pong it got instead of starting over.
    """

    async def on_start(self) -> None:
        self.spawn(self.ping_all)

    async def ping_all(self) -> None:
        wanted: int = self.config["pings"]
        timeout: float = self.config["timeout"]
        pongs: int = self.storage.get("pongs", 0)
        self.status(pongs=pongs, done=pongs >= wanted)
        while pongs < wanted:
            seq = pongs + 1
            self.send("server", {"type": "ping", "seq": seq})  # an extra one, just in case
            try:
                await self.rpc("server", {"type": "ping", "seq": seq}, timeout=timeout)
            except RPCTimeoutError:
                self.log.info(f"no pong for ping {seq} within {timeout} s; retrying")
                continue
            pongs = seq
            self.storage.put("pongs", pongs)
            self.status(pongs=pongs, done=pongs >= wanted)
