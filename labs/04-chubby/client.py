"""Lab 4's demo clients. The lab provides them: you write the replicas.

Each client takes the lock ``config["client_turns"]`` times: it finds the leader, asks for the
lock until it gets it, keeps it a while (never past its lease), and gives it back. Two of them
contend for it. The graded tests do not use them (they set ``client_turns = 0``): they drive
their own clients.
"""

from distlab import Message, Node, RPCTimeoutError


class LockClient(Node):
    """Takes the lock ``config["client_turns"]`` times, keeping it ``config["client_hold"]`` s.

    It asks the replica it believes leads (at first, one at random). A follower's
    ``not_leader`` names the leader to ask next; ``busy`` and ``unavailable`` mean: ask the same
    leader again a little later; silence means: that replica may be down, try another.

    A grant lasts until its ``expires`` time, on the cluster's clock: the client stops using the
    lock then even if it meant to keep it longer (its leader may have crashed, and another
    leader may hand the lock to someone else once the lease is over). Publishes ``holding``
    (whether it holds the lock now), ``holds`` (how many times it took it) and ``done``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.leader: str | None = None  # the replica it believes leads
        self.holds = 0

    async def on_start(self) -> None:
        turns: int = self.config["client_turns"]
        self.status(holding=False, holds=0, done=turns == 0)
        if turns:
            self.spawn(self.take_turns, turns)

    async def take_turns(self, turns: int) -> None:
        for _ in range(turns):
            expires = await self.acquire()
            self.holds += 1
            self.status(holding=True, holds=self.holds)
            until = min(self.now() + self.config["client_hold"], expires)
            await self.sleep(max(0.0, until - self.now()))
            self.status(holding=False)
            await self.release()
            await self.sleep(self.config["client_pause"])
        self.status(done=True)

    async def acquire(self) -> float:
        """Ask until some leader grants the lock; returns when the grant expires."""
        while True:
            replica = self.leader or self.random.choice(self.nodes_with_role("replica"))
            reply = await self.ask(replica, "acquire")
            if reply is not None and reply.type == "granted":
                self.leader = replica
                expires: float = reply.body["expires"]
                return expires
            self.follow(replica, reply)
            await self.sleep(self.config["client_pause"])

    async def release(self) -> None:
        """Give the lock back. If the answer is lost, no matter: the lease runs out anyway."""
        if self.leader is not None:
            await self.ask(self.leader, "release")

    async def ask(self, replica: str, request: str) -> Message | None:
        """``replica``'s answer to ``request``, or None after ``client_timeout`` s of silence."""
        timeout: float = self.config["client_timeout"]
        try:
            return await self.rpc(replica, {"type": request}, timeout=timeout)
        except RPCTimeoutError:
            self.log.info(f"{replica} did not answer {request} within {timeout:g} s")
            return None

    def follow(self, replica: str, reply: Message | None) -> None:
        """Learn from a refusal whom to ask next."""
        if reply is None:
            self.leader = None  # silent: down, or cut off; try another replica
        elif reply.type == "not_leader":
            self.leader = reply.body.get("leader")  # None: no leader known yet; try another
        elif reply.type == "busy":  # that replica leads; ask it again soon
            self.leader = replica
            self.log.info(
                f"{reply.body['holder']} holds the lock, until t={reply.body['expires']:.3f} s"
            )
        else:  # unavailable: that replica leads, but may not grant yet
            self.leader = replica
            self.log.info(f"{replica} leads, but grants nothing yet: {reply.body.get('reason')}")
