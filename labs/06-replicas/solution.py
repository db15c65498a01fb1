"""Lab 6 — Replicas: read replicas, failover, and version conflicts.

Read labs/06-replicas/README.md first. Run it with ``distlab run 6``: a primary takes the
writes and copies them to two read replicas, the primary crashes and a replica takes over
without losing a write it acknowledged, and then every replica takes writes, the network splits,
and the same key is written on both sides.

Every value a replica keeps carries a **version vector**: for each replica, how many of that
replica's writes of the key it includes (``{"replica-1": 3, "replica-3": 1}``). One version
*descends* from another if it is at least as large in every entry: it was written by someone
who had seen the other. Two versions neither of which descends from the other are
**concurrent**: written without either writer seeing the other's write. A replica keeps, for each
key, every version that no other version it holds descends from: one value, usually, and several
(**siblings**) after a conflict.

Every node is single-threaded in the trio sense: between two ``await``s nothing else runs on it,
so the bookkeeping below needs no locks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import trio

from distlab import Message, Node, handler

#: A version vector: replica name -> how many of that replica's writes of the key it includes.
Version: TypeAlias = dict[str, int]


def merge_versions(*versions: Mapping[str, int]) -> Version:
    """The smallest version that descends from every one of ``versions`` (entry by entry max)."""
    merged: Version = {}
    for version in versions:
        for replica, count in version.items():
            merged[replica] = max(merged.get(replica, 0), count)
    return merged


def version_words(version: Mapping[str, int]) -> str:
    """A version in few characters, for status and logs: ``{replica-1: 3, replica-3: 1}`` ->
    ``"1:3 3:1"``."""
    return " ".join(f"{name.rsplit('-', 1)[-1]}:{n}" for name, n in sorted(version.items()))


@dataclass(frozen=True)
class Sibling:
    """One version of a key's value: the value, its version vector, and when it was written.

    ``written_at`` (the time the replica that accepted the write took it) is there for people:
    logs, the TUI. A correct replica never uses it to decide which write wins.
    """

    value: Any
    version: Version
    written_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "version": self.version, "written_at": self.written_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sibling:
        return cls(data["value"], dict(data["version"]), float(data.get("written_at", 0.0)))


def siblings_to_json(siblings: Iterable[Sibling]) -> list[dict[str, Any]]:
    return [sibling.to_json() for sibling in siblings]


def siblings_from_json(data: Iterable[Mapping[str, Any]]) -> list[Sibling]:
    return [Sibling.from_json(item) for item in data]


@dataclass
class PendingWrite:
    """A write the primary has stored and sent to the replicas, waiting for enough copies."""

    key: str
    sibling: Sibling
    stored_by: set[str]  # the replicas known to have stored it, the primary itself included
    enough: trio.Event = field(default_factory=trio.Event)  # set once write_quorum stored it


class Replica(Node):
    """One replica of the key-value store: the primary, a read replica, or (Part C) a writer.

    Publishes ``role`` ("primary", "replica" or "writer"), ``epoch``, and for the key
    ``config["watch_key"]``: ``version`` (its version vector, in short) and ``siblings`` (the
    values it keeps). The TUI shows them in columns.
    """

    def __init__(self) -> None:
        super().__init__()
        # Set up here rather than in on_start: a message may be handled before on_start runs.
        self.store: dict[str, list[Sibling]] = self.recall_store()
        self.primary, self.epoch = self.recall_primary()
        self.serving = False  # a primary serves writes only once it has caught up (Part B)
        self.caught_up_from: set[str] = set()  # whose stores a new primary has merged (Part B)
        self.pending: dict[tuple[str, str], PendingWrite] = {}  # the primary's writes (Part B)
        self.published: dict[str, Any] = {}

    async def on_start(self) -> None:
        self.publish()
        if self.primary == self.id:
            self.spawn(self.take_over, self.epoch)  # a primary that restarts catches up first
        self.every(self.config["sync_interval"], self.keep_in_sync)

    # -- who is who (given) -----------------------------------------------------------------------

    def peers(self) -> list[str]:
        """The other replicas."""
        return [replica for replica in self.nodes_with_role("replica") if replica != self.id]

    def multi_writer(self) -> bool:
        """Whether every replica takes writes (Part C): the operator names no primary."""
        return self.primary is None

    def recall_primary(self) -> tuple[str | None, int]:
        """The primary and epoch this replica last heard of (kept in storage), or the config's."""
        kept: dict[str, Any] | None = self.storage.get("primary")
        if kept is None:
            return self.config["primary"] or None, 0
        return kept["primary"], kept["epoch"]

    def set_primary(self, primary: str | None, epoch: int) -> None:
        """Follow the operator's word: ``primary`` (None: every replica writes) from ``epoch``."""
        self.storage.put("primary", {"primary": primary, "epoch": epoch})
        self.primary, self.epoch, self.serving = primary, epoch, False
        self.publish()

    @handler("primary_is")
    async def on_primary_is(self, msg: Message) -> None:
        """The operator says who the primary is, in which epoch (every ``operator_interval``).

        A newer epoch replaces the old word; if it names this replica, it takes over. Answer
        ``primary_is_ok``: the operator counts a replica that answers as alive.
        """
        primary, epoch = msg.body["primary"], msg.body["epoch"]
        if epoch > self.epoch:
            self.log.info(f"epoch {epoch}: the primary is {primary or 'nobody: all write'}")
            self.set_primary(primary, epoch)
            if primary == self.id:
                self.spawn(self.take_over, epoch)
        self.reply(msg, {"type": "primary_is_ok", "epoch": self.epoch})

    def accepts_writes(self) -> bool:
        """Whether this replica takes a ``put`` now: the primary once caught up, or any replica
        when every replica writes."""
        return self.multi_writer() or (self.primary == self.id and self.serving)

    def write_quorum(self) -> int:
        """How many replicas (the writer included) store a write before it is acknowledged.

        ``config["write_quorum"]`` for the primary; 1 when every replica writes (Part C): each
        side of a partition acknowledges on its own, which is why conflicts happen.
        """
        return 1 if self.multi_writer() else int(self.config["write_quorum"])

    def publish(self) -> None:
        """Publish what changed: role, epoch, and the watched key's version and siblings."""
        if self.multi_writer():
            role = "writer"
        else:
            role = "primary" if self.primary == self.id else "replica"
        siblings = self.store.get(self.config["watch_key"], [])
        fields = {
            "role": role,
            "epoch": self.epoch,
            "version": version_words(self.version_of(self.config["watch_key"])),
            "siblings": [s.value for s in siblings],
        }
        changed = {k: v for k, v in fields.items() if self.published.get(k, object()) != v}
        if changed:
            self.status(**changed)
            self.published.update(changed)

    # -- the store: what a replica keeps, durably ----------------------------------------------

    def recall_store(self) -> dict[str, list[Sibling]]:
        """Every key's siblings, as kept in storage (nothing, the very first time)."""
        # SOLUTION: read back every key saved by save (one storage key per key: "key:<key>")
        store: dict[str, list[Sibling]] = {}
        for name in self.storage:
            if name.startswith("key:"):
                store[name.removeprefix("key:")] = siblings_from_json(self.storage.get(name))
        return store
        # END SOLUTION

    def save(self, key: str) -> None:
        """Write ``key``'s siblings to storage: a replica that restarts must still have them.

        Called after every change, before anyone hears of it (before a write is acknowledged,
        or its copy confirmed).
        """
        # SOLUTION: one storage key per key, holding its siblings with their versions
        self.storage.put(f"key:{key}", siblings_to_json(self.store[key]))
        # END SOLUTION

    def keep(self, key: str, siblings: Iterable[Sibling]) -> bool:
        """Merge ``siblings`` into what this replica keeps for ``key``; save it if it changed.

        Returns whether anything changed.
        """
        before = self.store.get(key, [])
        after = self.merged(before, list(siblings))
        if after == before:
            return False
        self.store[key] = after
        self.save(key)
        if key == self.config["watch_key"]:
            self.publish()
        return True

    def version_of(self, key: str) -> Version:
        """The version of everything this replica keeps for ``key``: it descends from each
        sibling ({} for a key it has never heard of)."""
        return merge_versions(*(sibling.version for sibling in self.store.get(key, [])))

    # -- Part A: the primary takes writes, the replicas serve reads -----------------------------

    def new_version(self, key: str, context: Mapping[str, int]) -> Version:
        """The version of a new write of ``key`` accepted by this replica.

        It descends from everything this replica keeps for the key and from ``context`` (the
        version the client read, which this replica may not have yet), and counts one more
        write of this replica: so it descends from all of them, and none of them from it.
        """
        # SOLUTION: merge context with this replica's version of the key, then one more own write
        version = merge_versions(context, self.version_of(key))
        version[self.id] = version.get(self.id, 0) + 1
        return version
        # END SOLUTION

    @handler("put")
    async def on_put(self, msg: Message) -> None:
        """A client writes ``value`` under ``key``, with the ``context`` it read ({} if none).

        A replica that does not take writes now answers ``not_primary`` (``primary``: whom it
        believes primary, or null while it takes over). Otherwise: the write gets a new version,
        is kept (and saved) here, and is copied to the others (:meth:`replicate`); once enough
        replicas have stored it, answer ``put_ok`` with the ``key`` and its ``version``. If they
        never do, answer nothing: the client cannot know whether the write will last.
        """
        key, value = msg.body["key"], msg.body["value"]
        context: Version = dict(msg.body.get("context") or {})
        # SOLUTION: refuse unless accepts_writes; new version; keep it; replicate; then put_ok
        if not self.accepts_writes():
            primary = None if self.primary == self.id else self.primary
            self.reply(msg, {"type": "not_primary", "primary": primary})
            return
        sibling = Sibling(value, self.new_version(key, context), self.now())
        self.keep(key, [sibling])
        if await self.replicate(key, sibling):
            self.reply(msg, {"type": "put_ok", "key": key, "version": sibling.version})
        # END SOLUTION

    @handler("replicate")
    async def on_replicate(self, msg: Message) -> None:
        """The primary (or, in Part C, a writer) sends a copy of a write.

        Store it only if it comes from this replica's own epoch: an old primary, from before a
        failover, must not collect copies (Part B). Keep it (saved before the answer), and
        answer ``replicated`` with the ``key`` and ``version``.
        """
        # SOLUTION: ignore another epoch's copy; keep the sibling; answer replicated
        if msg.body["epoch"] != self.epoch:
            return
        sibling = Sibling.from_json(msg.body["sibling"])
        self.keep(msg.body["key"], [sibling])
        self.reply(msg, {"type": "replicated", "key": msg.body["key"], "version": sibling.version})
        # END SOLUTION

    @handler("get")
    async def on_get(self, msg: Message) -> None:
        """A client reads ``key``; ``after`` is the version its session has seen of it ({}).

        The session guarantees: a replica whose version of the key does not descend from
        ``after`` is behind what this client already wrote or read. It answers ``behind`` (with
        its ``version``), and the client asks another replica. Otherwise answer ``get_ok``:
        ``key``, ``siblings`` (each ``value`` and ``version``) and ``version`` (the context for
        the client's next write: it descends from every sibling).
        """
        key = msg.body["key"]
        after: Version = dict(msg.body.get("after") or {})
        # SOLUTION: behind unless our version descends from after; else every sibling
        version = self.version_of(key)
        if not self.descends(version, after):
            self.reply(msg, {"type": "behind", "key": key, "version": version})
            return
        siblings = siblings_to_json(self.store.get(key, []))
        self.reply(msg, {"type": "get_ok", "key": key, "siblings": siblings, "version": version})
        # END SOLUTION

    async def keep_in_sync(self) -> None:
        """Anti-entropy, every ``sync_interval``: a copy the network lost is made up for."""
        self.send_sync()

    def send_sync(self) -> None:
        """Send every peer everything this replica keeps: ``sync`` with ``store``, a mapping of
        each key to its siblings. (Small stores only; a real one would first compare digests.)"""
        # SOLUTION: one sync to each peer, with every key's siblings
        store = {key: siblings_to_json(siblings) for key, siblings in self.store.items()}
        for peer in self.peers():
            self.send(peer, {"type": "sync", "store": store})
        # END SOLUTION

    @handler("sync")
    async def on_sync(self, msg: Message) -> None:
        """A peer's whole store: merge every key of it into ours (:meth:`keep`)."""
        # SOLUTION: keep every key's siblings
        for key, siblings in msg.body["store"].items():
            self.keep(key, siblings_from_json(siblings))
        # END SOLUTION

    # -- Part B: acknowledged writes survive the primary ----------------------------------------

    async def replicate(self, key: str, sibling: Sibling) -> bool:
        """Copy a write this replica accepted to every peer; True once enough have stored it.

        Enough: :meth:`write_quorum` replicas, this one included. Send ``replicate`` (``epoch``,
        ``key``, ``sibling``) to every peer (even when this replica alone is enough: the others
        should hear of it soon), and again every ``resend_interval`` to those that have not
        confirmed, until enough have, for at most ``write_timeout`` seconds (then False). The
        answers arrive in :meth:`on_replicated`.
        """
        # SOLUTION: a PendingWrite; send to those that have not stored it until enough or timeout
        ref = (key, version_words(sibling.version))
        pending = PendingWrite(key, sibling, stored_by={self.id})
        self.pending[ref] = pending
        body = {"type": "replicate", "epoch": self.epoch, "key": key, "sibling": sibling.to_json()}
        deadline = self.now() + self.config["write_timeout"]
        try:
            while True:
                for peer in self.peers():
                    if peer not in pending.stored_by:
                        self.send(peer, body)
                if len(pending.stored_by) >= self.write_quorum() or self.now() >= deadline:
                    return len(pending.stored_by) >= self.write_quorum()
                with trio.move_on_after(self.config["resend_interval"]):
                    await pending.enough.wait()
                if pending.enough.is_set():
                    return True
        finally:
            del self.pending[ref]
        # END SOLUTION

    @handler("replicated")
    async def on_replicated(self, msg: Message) -> None:
        """A peer confirms it stored a copy: count it for that write (if still waiting)."""
        # SOLUTION: add the sender to the pending write's stored_by; set enough at the quorum
        pending = self.pending.get((msg.body["key"], version_words(msg.body["version"])))
        if pending is None:
            return  # acknowledged (or given up on) already
        pending.stored_by.add(msg.src)
        if len(pending.stored_by) >= self.write_quorum():
            pending.enough.set()
        # END SOLUTION

    def copies_needed_to_take_over(self) -> int:
        """How many replicas' stores (its own included) a new primary must merge before it
        serves writes: enough that any ``write_quorum`` replicas include one of them. Every
        acknowledged write was stored by a quorum, so one of those stores holds it."""
        return len(self.nodes_with_role("replica")) - int(self.config["write_quorum"]) + 1

    async def take_over(self, epoch: int) -> None:
        """Become the primary of ``epoch``: catch up first, then serve writes.

        Ask the peers for their stores (``fetch`` with the ``epoch``), again every
        ``resend_interval`` until :meth:`copies_needed_to_take_over` stores (its own included)
        are merged; answers arrive in :meth:`on_fetched`. Give up if the epoch moves on
        meanwhile. Then set ``serving``.
        """
        # SOLUTION: fetch from peers not yet merged until enough; then serving = True
        self.caught_up_from = {self.id}
        while len(self.caught_up_from) < self.copies_needed_to_take_over():
            if self.epoch != epoch or self.primary != self.id:
                return
            for peer in self.peers():
                if peer not in self.caught_up_from:
                    self.send(peer, {"type": "fetch", "epoch": epoch})
            await self.sleep(self.config["resend_interval"])
        if self.epoch == epoch and self.primary == self.id:
            self.serving = True
            self.log.info(f"primary of epoch {epoch}, caught up from {sorted(self.caught_up_from)}")
            self.publish()
        # END SOLUTION

    @handler("fetch")
    async def on_fetch(self, msg: Message) -> None:
        """A new primary asks for everything this replica keeps, for taking over in ``epoch``.

        Ignore an older epoch. A newer one than ours: the operator's word has not reached us
        yet; adopt it now, with the sender as primary (:meth:`set_primary`), before answering.
        From then on this replica refuses the old primary's copies, so nothing the old primary
        acknowledges later can be missing from what the new one merged. Answer ``fetched`` with
        the ``epoch`` and the ``store`` (as in ``sync``).
        """
        epoch: int = msg.body["epoch"]
        # SOLUTION: ignore an older epoch; adopt a newer one; answer fetched with the store
        if epoch < self.epoch:
            return
        if epoch > self.epoch:
            self.set_primary(msg.src, epoch)
        store = {key: siblings_to_json(siblings) for key, siblings in self.store.items()}
        self.reply(msg, {"type": "fetched", "epoch": msg.body["epoch"], "store": store})
        # END SOLUTION

    @handler("fetched")
    async def on_fetched(self, msg: Message) -> None:
        """A peer's store, for taking over in ``epoch``: merge it, and count the peer."""
        # SOLUTION: if still taking over in that epoch: keep every key; add the sender
        if msg.body["epoch"] != self.epoch or self.primary != self.id:
            return
        for key, siblings in msg.body["store"].items():
            self.keep(key, siblings_from_json(siblings))
        self.caught_up_from.add(msg.src)
        # END SOLUTION

    # -- Part C: concurrent writes and siblings ---------------------------------------------------

    def descends(self, a: Mapping[str, int], b: Mapping[str, int]) -> bool:
        """Whether version ``a`` descends from ``b``: at least as large in every entry.

        (A missing entry counts as 0. Every version descends from ``{}`` and from itself.)
        """
        # SOLUTION: every entry of b is at most a's
        return all(a.get(replica, 0) >= count for replica, count in b.items())
        # END SOLUTION

    def merged(self, mine: list[Sibling], theirs: list[Sibling]) -> list[Sibling]:
        """The siblings to keep of ``mine`` and ``theirs`` together.

        Every version that no *other* version of the two lists descends from, once each;
        those some other descends from were overwritten by a writer who had seen them. Two
        concurrent versions are both kept: never choose one (by time or otherwise), or a
        write that was acknowledged is lost. Order them by version, so that replicas holding
        the same siblings hold the same list.
        """
        # SOLUTION: drop versions another one strictly descends from; drop duplicates; sort
        every = mine + theirs
        kept: list[Sibling] = []
        for sibling in every:
            overwritten = any(
                other.version != sibling.version and self.descends(other.version, sibling.version)
                for other in every
            )
            if not overwritten and all(k.version != sibling.version for k in kept):
                kept.append(sibling)
        return sorted(kept, key=lambda s: sorted(s.version.items()))
        # END SOLUTION
