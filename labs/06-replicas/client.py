"""Lab 6's given nodes: the operator, and the demo's clients. You write the replicas.

The **operator** is the cluster's trusted administrator. Every ``operator_interval`` it tells
every replica who the primary is, and in which epoch (``primary_is``); a replica that answers
is alive. When the primary has not answered for ``failover_after`` seconds, the operator starts
a new epoch with a new primary: the first replica, in the replicas' fixed order, that is alive.
It does not know which replica is most up to date; the new primary catches up by itself.

A **session client** reads and writes keys. It remembers, per key, the version it last wrote or
read (its *session*), and sends it with every read: a replica that is behind answers
``behind``, and the client asks another one. So a client always reads its own writes, and never
reads a value older than one it has read, whichever replica answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distlab import Message, Node, RPCTimeoutError, handler


def merge_versions(*versions: Mapping[str, int]) -> dict[str, int]:
    """The smallest version that descends from every one of ``versions``."""
    merged: dict[str, int] = {}
    for version in versions:
        for replica, count in version.items():
            merged[replica] = max(merged.get(replica, 0), count)
    return merged


class Operator(Node):
    """Names the primary (``primary_is`` every ``operator_interval``) and fails it over.

    A ``set_mode`` message with ``multi_writer: true`` (the demo sends one) starts an epoch with
    no primary: every replica takes writes. Publishes ``primary`` and ``epoch``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.primary: str | None = self.config["primary"] or None
        self.epoch = 0
        self.last_answer: dict[str, float] = {}

    async def on_start(self) -> None:
        started = self.now()
        self.last_answer = {replica: started for replica in self.replicas()}
        self.status(primary=self.primary, epoch=self.epoch)
        self.every(self.config["operator_interval"], self.round)

    def replicas(self) -> list[str]:
        return self.nodes_with_role("replica")

    async def round(self) -> None:
        """Fail the primary over if it went silent; then tell every replica who is primary."""
        if self.primary is not None and self.silent(self.primary):
            successor = next((r for r in self.replicas() if not self.silent(r)), None)
            if successor is not None:
                self.log.warning(
                    f"{self.primary} silent for {self.config['failover_after']:g} s: "
                    f"{successor} is the primary of epoch {self.epoch + 1}"
                )
                self.new_epoch(successor)
        for replica in self.replicas():
            self.send(replica, {"type": "primary_is", "primary": self.primary, "epoch": self.epoch})

    def silent(self, replica: str) -> bool:
        """Whether ``replica`` has not answered for ``failover_after`` seconds."""
        failover_after: float = self.config["failover_after"]
        return self.now() - self.last_answer.get(replica, 0.0) > failover_after

    def new_epoch(self, primary: str | None) -> None:
        self.primary, self.epoch = primary, self.epoch + 1
        self.status(primary=primary, epoch=self.epoch)

    @handler("primary_is_ok")
    async def on_primary_is_ok(self, msg: Message) -> None:
        self.last_answer[msg.src] = self.now()

    @handler("set_mode")
    async def on_set_mode(self, msg: Message) -> None:
        """Switch to every replica writing (``multi_writer: true``), in a new epoch."""
        if msg.body.get("multi_writer") and self.primary is not None:
            self.log.warning("from now on every replica takes writes")
            self.new_epoch(None)
        self.reply(msg, {"type": "mode_set", "epoch": self.epoch})


class SessionClient(Node):
    """Writes and reads keys with session guarantees (the demo's client; also a library).

    ``put`` goes to the primary (or, when every replica writes, to the replica it is given);
    ``get`` to a random replica, carrying the session's version of the key. The demo client
    writes ``config["client_writes"]`` values of ``watch_key``, reading it back after each.
    Publishes ``writes`` (acknowledged), ``reads`` and ``done``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.session: dict[str, dict[str, int]] = {}  # per key: the version it wrote or read
        self.primary: str | None = self.config["primary"] or None
        self.writes = self.reads = 0

    async def on_start(self) -> None:
        writes: int = self.config["client_writes"]
        self.status(writes=0, reads=0, done=writes == 0)
        if writes:
            self.spawn(self.write_and_read, writes)

    async def write_and_read(self, writes: int) -> None:
        key = self.config["watch_key"]
        for n in range(1, writes + 1):
            await self.put(key, f"{self.id}:{n}")
            self.writes += 1
            await self.get(key)
            self.reads += 1
            self.status(writes=self.writes, reads=self.reads)
            await self.sleep(self.config["client_pause"])
        self.status(done=True)

    # -- the session: what every read and write goes through -----------------------------------

    def saw(self, key: str, version: Mapping[str, int]) -> None:
        """Remember that this client wrote or read ``version`` of ``key``."""
        self.session[key] = merge_versions(self.session.get(key, {}), version)

    async def put(
        self,
        key: str,
        value: Any,
        *,
        at: str | None = None,
        context: Mapping[str, int] | None = None,
    ) -> dict[str, int]:
        """Write until some replica acknowledges it; returns the write's version.

        ``at``: the replica to write to (when every replica writes); else the primary.
        ``context``: the version this write replaces; by default, all this session has seen of
        the key (so the write descends from what the client wrote and read before).
        """
        if context is None:
            context = self.session.get(key, {})
        body = {"type": "put", "key": key, "value": value, "context": dict(context)}
        while True:
            replica = at or self.primary or self.random.choice(self.nodes_with_role("replica"))
            reply = await self.ask(replica, body)
            if reply is not None and reply.type == "put_ok":
                version: dict[str, int] = reply.body["version"]
                self.saw(key, version)
                return version
            if reply is not None and reply.type == "not_primary":
                self.primary = reply.body.get("primary")
            elif reply is None and at is None:
                self.primary = None  # silent: down, cut off, or waiting for copies; try another
            await self.sleep(self.config["client_pause"])

    async def get(self, key: str, *, at: str | None = None) -> dict[str, Any]:
        """Read ``key`` from ``at`` or a random replica that is not behind this session.

        Returns the ``get_ok`` body: ``siblings`` and ``version`` (the context for a write).
        """
        body = {"type": "get", "key": key, "after": self.session.get(key, {})}
        while True:
            replica = at or self.random.choice(self.nodes_with_role("replica"))
            reply = await self.ask(replica, body)
            if reply is not None and reply.type == "get_ok":
                self.saw(key, reply.body["version"])
                return dict(reply.body)
            if reply is not None:
                self.log.info(f"{replica} is behind this session on {key}: asking another")
            await self.sleep(self.config["client_pause"])

    async def ask(self, replica: str, body: Mapping[str, Any]) -> Message | None:
        """``replica``'s answer, or None after ``client_timeout`` s of silence."""
        timeout: float = self.config["client_timeout"]
        try:
            return await self.rpc(replica, body, timeout=timeout)
        except RPCTimeoutError:
            self.log.info(f"{replica} did not answer {body['type']} within {timeout:g} s")
            return None
