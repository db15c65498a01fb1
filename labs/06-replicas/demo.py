"""Lab 6's demo scenario: read replicas, a failover that loses nothing, and a conflict.

1. replica-1 is the primary; client writes the key ``x`` again and again, reading it back
   from a random replica after each write. The link from the primary to replica-2 is slow:
   replica-2 is often behind, and must say so rather than answer with an old value.
2. The primary crashes right after it acknowledges a write. The operator makes replica-2 (the
   first replica alive) the primary, although it is the one that lags: it must catch up before
   it takes a write, or its next version of ``x`` would not descend from the acknowledged one.
   The old primary restarts, and every replica agrees on ``x``: one value, no conflict.
3. The operator switches to multi-writer: every replica takes writes. replica-1 is cut off from
   the other two, and ``x`` is written on both sides (``left`` at replica-1, ``right`` at
   replica-3). When the network heals, every replica must keep **both** (two siblings): each
   write was acknowledged. A client reads the two siblings and writes ``left+right`` with their
   version as context: that write replaces both, everywhere.

It passes when every replica converged each time, no acknowledged write was lost (every
replica's final version of ``x`` descends from each acknowledged version), every read of
client saw its own writes, and ``x`` had siblings only after the partition of act 3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from distlab import Cluster, Message, Node, RPCTimeoutError, ScenarioResult, TraceEvent

#: Client-1's acknowledged writes before the demo crashes the primary.
WRITES_BEFORE_CRASH = 3
#: Seconds each step may take (a failover takes ``failover_after`` and a catch-up; convergence
#: a few ``sync_interval``).
STEP = 5.0
#: Seconds the link from the primary to replica-2 takes in acts 1 and 2.
SLOW = 0.3


class DemoFailed(Exception):
    """The story went wrong: the message says how, in words."""


# -- the demo's own nodes ------------------------------------------------------------------------


class DemoNode(Node):
    """A node of the demo's that asks one replica until it answers."""

    async def ask(self, replica: str, body: dict[str, Any]) -> Message:
        while True:
            try:
                return await self.rpc(replica, body, timeout=self.config["client_timeout"])
            except RPCTimeoutError:
                await self.sleep(self.config["client_pause"])


class Director(DemoNode):
    """Asks the operator to let every replica take writes."""

    async def on_start(self) -> None:
        reply = await self.ask("operator", {"type": "set_mode", "multi_writer": True})
        self.status(epoch=reply.body["epoch"], done=True)


class Writer(DemoNode):
    """Writes ``VALUE`` at ``REPLICA`` with no context (it has read nothing)."""

    VALUE = ""
    REPLICA = ""

    async def on_start(self) -> None:
        body = {"type": "put", "key": self.config["watch_key"], "value": self.VALUE, "context": {}}
        reply = await self.ask(self.REPLICA, body)
        self.status(wrote=self.VALUE, reply=reply.type, done=True)


class Left(Writer):
    VALUE, REPLICA = "left", "replica-1"


class Right(Writer):
    VALUE, REPLICA = "right", "replica-3"


class Resolver(DemoNode):
    """Reads the siblings at replica-2, and writes their resolution at replica-1 with their
    version as context: a write that replaces every sibling it read."""

    async def on_start(self) -> None:
        key = self.config["watch_key"]
        read = await self.ask("replica-2", {"type": "get", "key": key, "after": {}})
        values = sorted(s["value"] for s in read.body.get("siblings", []))
        resolved = "+".join(values)
        body = {"type": "put", "key": key, "value": resolved, "context": read.body["version"]}
        reply = await self.ask("replica-1", body)
        self.status(read=values, wrote=resolved, reply=reply.type, done=True)


# -- what the replicas say -----------------------------------------------------------------------


def replicas(cluster: Cluster) -> list[str]:
    return cluster.roster.with_role("replica")


def parse_version(words: str) -> dict[str, int]:
    """A published version (``"1:3 3:1"``) as a version vector."""
    version = {}
    for part in words.split():
        number, count = part.split(":")
        version[f"replica-{number}"] = int(count)
    return version


def descends(a: dict[str, int], b: dict[str, int]) -> bool:
    return all(a.get(name, 0) >= count for name, count in b.items())


def siblings_of(cluster: Cluster, replica: str) -> list[Any]:
    siblings: list[Any] = cluster.status_of(replica).get("siblings", [])
    return siblings


def describe(cluster: Cluster) -> str:
    said = []
    for r in replicas(cluster):
        s = cluster.status_of(r)
        if cluster.state(r) != "up":
            said.append(f"{r} is {cluster.state(r)}")
        else:
            said.append(
                f"{r} ({s.get('role')}, epoch {s.get('epoch')}) keeps x = {s.get('siblings')} "
                f"at version {{{s.get('version')}}}"
            )
    return "; ".join(said)


def converged(cluster: Cluster, values: set[Any] | None = None) -> bool:
    """Whether every replica is up and keeps the same version of x (and, if given, exactly the
    sibling ``values``)."""
    if any(cluster.state(r) != "up" for r in replicas(cluster)):
        return False
    statuses = [cluster.status_of(r) for r in replicas(cluster)]
    if len({str(s.get("version")) for s in statuses}) != 1:
        return False
    return values is None or all(set(s.get("siblings", [])) == values for s in statuses)


async def step(cluster: Cluster, done: Callable[[], bool], *, what: str) -> None:
    """Wait until ``done()``; fail with the replicas' state after STEP seconds."""
    with trio.move_on_after(STEP):
        await cluster.wait_until(done)
        return
    raise DemoFailed(f"{what} within {STEP:g} s (at t={cluster.now():.3f} s: {describe(cluster)})")


def status_done(cluster: Cluster, name: str) -> bool:
    return bool(cluster.status_of(name).get("done"))


# -- what the trace says ---------------------------------------------------------------------------


def answers_to_clients(
    events: list[TraceEvent], kind: str
) -> list[tuple[TraceEvent, dict[str, Any]]]:
    """Every answer of type ``kind`` a replica delivered to a node that is not a replica:
    (the delivery, the answer's body), in order."""
    sent = {e["mid"]: e for e in events if e.kind == "send"}
    found = []
    for e in events:
        send = sent.get(e.get("mid")) if e.kind == "deliver" else None
        if (
            send is not None
            and send["body"].get("type") == kind
            and not str(e["dest"]).startswith("replica")
        ):
            found.append((e, dict(send["body"])))
    return found


def check_reads_see_writes(events: list[TraceEvent], client: str) -> int:
    """Every read of ``client`` descends from every version it wrote or read before."""
    seen: dict[str, int] = {}
    reads = 0
    answers = sorted(
        answers_to_clients(events, "put_ok") + answers_to_clients(events, "get_ok"),
        key=lambda pair: pair[0].t,
    )
    for delivery, body in answers:
        if delivery["dest"] != client:
            continue
        version = dict(body["version"])
        if body["type"] == "get_ok":
            reads += 1
            if not descends(version, seen):
                values = [s["value"] for s in body.get("siblings", [])]
                raise DemoFailed(
                    f"at t={delivery.t:.3f} s {client} read x = {values} from "
                    f"{delivery['src']}, version {version}, although it had already written or "
                    f"read version {seen}: a replica behind the client's session must answer "
                    "behind, not an old value"
                )
        for name, count in version.items():
            seen[name] = max(seen.get(name, 0), count)
    return reads


def check_no_siblings_before(events: list[TraceEvent], until: float) -> None:
    """With one primary, writes form one line: no replica ever keeps two siblings of x."""
    for e in events:
        if e.kind == "status" and e.t < until and len(e.get("fields", {}).get("siblings", [])) > 1:
            raise DemoFailed(
                f"at t={e.t:.3f} s, with one primary taking every write, {e['node']} kept two "
                f"versions of x: {e['fields']['siblings']}. A write of the primary must descend "
                "from every acknowledged write: a new primary catches up before it writes, and "
                "a write is acknowledged only once it is stored by write_quorum replicas"
            )


def check_nothing_acknowledged_lost(cluster: Cluster) -> int:
    """Every replica's version of x descends from every version acknowledged to a client."""
    acknowledged = answers_to_clients(cluster.trace.events, "put_ok")
    for r in replicas(cluster):
        if cluster.state(r) != "up":
            continue
        final = parse_version(str(cluster.status_of(r).get("version", "")))
        for delivery, body in acknowledged:
            if not descends(final, body["version"]):
                raise DemoFailed(
                    f"{delivery['src']} acknowledged a write of x to {delivery['dest']} at "
                    f"t={delivery.t:.3f} s, version {body['version']}; at "
                    f"t={cluster.now():.3f} s {r} keeps x at version {final}, which does not "
                    "descend from it: the write was lost"
                    f" ({describe(cluster)})"
                )
    return len(acknowledged)


# -- the story -------------------------------------------------------------------------------------


async def act_one_and_two(cluster: Cluster, happened: list[str]) -> float:
    """Writes through the primary, a crash right after an acknowledgement, a failover."""
    cluster.network.set_link("replica-1", "replica-2", delay=SLOW)
    await step(
        cluster,
        lambda: cluster.status_of("client").get("writes", 0) >= WRITES_BEFORE_CRASH,
        what=f"client did not have {WRITES_BEFORE_CRASH} writes acknowledged",
    )
    await cluster.crash_after_send("replica-1", "put_ok")
    await step(
        cluster,
        lambda: cluster.status_of("operator").get("primary") == "replica-2",
        what="the primary, replica-1, crashed right after a put_ok, and the operator did not "
        "fail over to replica-2",
    )
    crashed_at = cluster.now()
    happened.append(
        f"replica-1 crashed right after a put_ok; replica-2 took over at t={crashed_at:.2f} s"
    )
    try:
        await step(cluster, lambda: status_done(cluster, "client"), what="client was not done")
    except DemoFailed:
        check_nothing_acknowledged_lost(cluster)  # the likely story, if it applies
        raise
    cluster.network.reset_link("replica-1", "replica-2")
    await cluster.restart("replica-1")
    await step(cluster, lambda: converged(cluster), what="the replicas did not agree on x")
    value = siblings_of(cluster, "replica-1")
    happened.append(f"after the restart every replica kept x = {value}")
    return cluster.now()


async def act_three(cluster: Cluster, happened: list[str]) -> None:
    """Every replica writes; a partition; a conflict; siblings; a resolution."""
    await cluster.spawn("director", role="client", node_class=Director)
    await step(
        cluster,
        lambda: all(cluster.status_of(r).get("role") == "writer" for r in replicas(cluster)),
        what="the operator let every replica write, and they did not all say role=writer",
    )
    for other in ("replica-2", "replica-3"):
        cluster.network.block("replica-1", other)
        cluster.network.block(other, "replica-1")
    await cluster.spawn("alice", role="client", node_class=Left)
    await cluster.spawn("bob", role="client", node_class=Right)
    await step(
        cluster,
        lambda: status_done(cluster, "alice") and status_done(cluster, "bob"),
        what="alice (at replica-1) and bob (at replica-3) did not both get their write of x "
        "acknowledged, on the two sides of a partition",
    )
    await trio.sleep(0.5)
    cluster.network.heal()
    await step(
        cluster,
        lambda: converged(cluster, {"left", "right"}),
        what="after the partition healed, the replicas did not all keep both acknowledged "
        "writes, left and right, as siblings",
    )
    happened.append(
        "written on both sides of a partition, x = left and x = right became two "
        "siblings on every replica"
    )
    await cluster.spawn("carol", role="client", node_class=Resolver)
    await step(cluster, lambda: status_done(cluster, "carol"), what="carol's resolution failed")
    await step(
        cluster,
        lambda: converged(cluster, {"left+right"}),
        what="carol read the siblings and wrote left+right with their version as context, and "
        "the replicas did not all replace both siblings with it",
    )
    happened.append("carol read both and wrote left+right with their version: it replaced both")


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    happened: list[str] = []
    try:
        with trio.fail_after(duration):
            one_primary_until = await act_one_and_two(cluster, happened)
            await act_three(cluster, happened)
        await cluster.settle()
        events = cluster.trace.events
        reads = check_reads_see_writes(events, "client")
        check_no_siblings_before(events, one_primary_until)
        acknowledged = check_nothing_acknowledged_lost(cluster)
    except DemoFailed as failure:
        story = "; ".join(happened)
        return ScenarioResult.failed(f"{story + '. But ' if story else ''}{failure}")
    except trio.TooSlowError:
        return ScenarioResult.failed(f"not done after {duration:g} s: {describe(cluster)}")
    return ScenarioResult.ok(
        f"{'; '.join(happened)}. None of the {acknowledged} acknowledged writes was lost, and "
        f"each of client's {reads} reads saw its own writes"
    )
