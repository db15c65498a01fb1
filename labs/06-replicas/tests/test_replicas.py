"""Lab 6's graded tests.

Each test starts the three replicas and the operator from the lab (the demo's client stays idle:
``client_writes = 0``), breaks the cluster on a plan (slow links, lost messages, crashes,
partitions), and drives its own clients (``run.client``: ``user-1``, ``user-2``, ...) through a
``Session``, which carries the client's versions the way the lab's client does. What it checks
it reads from what the clients were told (``run.history``):

- no acknowledged write is lost: at the end, every replica's version of the key descends from
  the version of every ``put_ok`` a client received (``acknowledged_writes_kept``);
- the session guarantees: every read of a client descends from everything that client wrote or
  read before it (read-your-writes, monotonic reads: ``session_guarantees``);
- bounded staleness: a read reflects every write acknowledged ``STALE_BOUND`` s before it began
  (``stale_reads_within``);
- one primary at a time: any two acknowledged writes of a key are ordered (one descends from the
  other: ``acknowledged_writes_ordered``), and a read from a converged store returns one value;
- linearizability with one primary (Parts A and B): the puts, and the reads sent to the replica
  the test knows is the primary, are linearizable as a ``KeyValueModel``
  (``linearizable_at_the_primary``: ``check_linearizable`` with ``versioned_kv_read``);
- convergence: after the network heals, every replica keeps the same siblings within
  ``CONVERGE_BOUND`` s (``converged_within``).

The checkers are distlab.grading's (``grading/_replica_checks.py``), usable by any lab.

Every wait is bounded, so an implementation that never answers fails in plain words instead of
running out of time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import trio

from distlab import Cluster
from distlab.grading import (
    CheckFailed,
    Client,
    History,
    KeyValueModel,
    LabRun,
    Op,
    ReplicaRead,
    ReplicaWrite,
    acknowledged_writes,
    acknowledged_writes_kept,
    acknowledged_writes_ordered,
    answered_reads,
    check_linearizable,
    converged_within,
    faults,
    graded,
    merge_versions,
    no_crashes,
    session_guarantees,
    stale_reads_within,
    version_words,
    versioned_kv_read,
)

#: the key every test writes
KEY = "x"
#: seconds a test client waits for a replica's answer (a put waits for copies: a little more)
CALL_TIMEOUT = 0.3
#: seconds a client waits before asking again after a refusal
RETRY = 0.05
#: seconds within which every replica keeps the same siblings once the network is whole again:
#: a few anti-entropy rounds (config: sync_interval = 0.4 s)
CONVERGE_BOUND = 2.0
#: seconds after which a write acknowledged to anyone must be visible to every reader
STALE_BOUND = 1.0

#: seconds a test client waits between two writes of a stream of writes
PAUSE = 0.1

Version = dict[str, int]


# -- the cluster -----------------------------------------------------------------------------------


def replicas_cluster(
    run: LabRun, config: dict[str, Any] | None = None, **network: Any
) -> AbstractAsyncContextManager[Cluster]:
    """The lab's cluster with the demo client idle; ``config`` overrides some parameters."""
    return run.cluster(config={"client_writes": 0, **(config or {})}, **network)


#: Part C: no primary, every replica takes writes
MULTI_WRITER = {"primary": ""}


def replicas(cluster: Cluster) -> list[str]:
    return cluster.roster.with_role("replica")


def cut(cluster: Cluster, side: Iterable[str], other: Iterable[str]) -> None:
    """Cut the links between two groups of replicas, both ways (clients still reach all)."""
    for a in side:
        for b in other:
            cluster.network.block(a, b)
            cluster.network.block(b, a)


def describe(cluster: Cluster) -> str:
    """Each replica's state and what it says, for failure messages."""
    said = []
    for name in replicas(cluster):
        if cluster.state(name) != "up":
            said.append(f"{name} is {cluster.state(name)}")
            continue
        s = cluster.status_of(name)
        said.append(
            f"{name} ({s.get('role')}, epoch {s.get('epoch')}) keeps {KEY} = {s.get('siblings')}"
        )
    return "; ".join(said)


async def came_true(cluster: Cluster, predicate: Any, seconds: float) -> bool:
    with trio.move_on_after(seconds):
        await cluster.wait_until(lambda: bool(predicate()))
        return True
    return False


# -- a client session ------------------------------------------------------------------------------


@dataclass
class Session:
    """A test client that carries its versions, as the lab's client does (README, Part A).

    ``put`` goes to the replica it is told (or the primary it believes in, following
    ``not_primary``); ``get`` to the replica it is told, or each replica in turn, with ``after``:
    the version this session has seen of the key.
    """

    client: Client
    cluster: Cluster
    primary: str | None = "replica-1"
    seen: dict[str, Version] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.client.name

    def saw(self, key: str, version: Mapping[str, int]) -> None:
        self.seen[key] = merge_versions(self.seen.get(key, {}), version)

    async def put(
        self,
        value: Any,
        *,
        at: str | None = None,
        context: Mapping[str, int] | None = None,
        seconds: float = 2.0,
        key: str = KEY,
    ) -> Version | None:
        """Write until a replica acknowledges (the version), or None after ``seconds``.

        ``context``: the version the write replaces; by default, what this session has seen.
        """
        if context is None:
            context = self.seen.get(key, {})
        body = {"type": "put", "key": key, "value": value, "context": dict(context)}
        deadline = self.cluster.now() + seconds
        names = replicas(self.cluster)
        turn = 0
        while self.cluster.now() < deadline:
            replica = at or self.primary or names[turn % len(names)]
            turn += 1
            reply = await self.client.call(replica, body, timeout=CALL_TIMEOUT * 2)
            if reply is not None and reply.type == "put_ok":
                version: Version = dict(reply.body["version"])
                self.saw(key, version)
                return version
            if at is None:
                said = reply.body.get("primary") if reply is not None else None
                self.primary = said if isinstance(said, str) and said in names else None
            await trio.sleep(RETRY)
        return None

    async def get(
        self, *, at: str | None = None, seconds: float = 2.0, key: str = KEY, fresh: bool = False
    ) -> dict[str, Any] | None:
        """Read from ``at`` (or each replica in turn, from a random one) until a replica is not
        behind this session: the ``get_ok`` body, or None after ``seconds``. ``fresh``: read
        without the session's version (and without adding to it)."""
        names = replicas(self.cluster)
        turn = self.cluster.node_object(self.name).random.randrange(len(names))
        deadline = self.cluster.now() + seconds
        while self.cluster.now() < deadline:
            replica = at or names[turn % len(names)]
            turn += 1
            after = {} if fresh else self.seen.get(key, {})
            reply = await self.client.call(
                replica, {"type": "get", "key": key, "after": after}, timeout=CALL_TIMEOUT
            )
            if reply is not None and reply.type == "get_ok":
                if not fresh:
                    self.saw(key, reply.body["version"])
                return dict(reply.body)
            await trio.sleep(RETRY)
        return None


async def session(run: LabRun, cluster: Cluster, name: str) -> Session:
    return Session(await run.client(cluster, name), cluster)


async def must_put(user: Session, value: Any, *, why: str, **kwargs: Any) -> Version:
    began = user.cluster.now()
    version = await user.put(value, **kwargs)
    if version is None:
        raise CheckFailed(
            f"{user.name} wrote {KEY} = {value!r} from t={began:.3f} s ({why}), and no replica "
            f"acknowledged it within 2 s. At t={user.cluster.now():.3f} s: {describe(user.cluster)}"
        )
    return version


# -- what the clients were told --------------------------------------------------------------------
#
# The checkers are distlab.grading's (acknowledged_writes_kept, converged_within,
# session_guarantees, stale_reads_within, acknowledged_writes_ordered, check_linearizable): they
# read run.history, where a put is invoke {key, value, context} -> ok {type: put_ok, version}
# (or not_primary, or a timeout: it may have happened), and a get is invoke {key, after} -> ok
# {type: get_ok, siblings: [{value, version, written_at}], version} (or behind).


def writes(history: History) -> list[ReplicaWrite]:
    """Every write of KEY a client was told was stored, by acknowledgement time."""
    return acknowledged_writes(history, key=KEY)


def linearizable_at_the_primary(history: History, *tenures: tuple[str, float, float]) -> None:
    """Parts A and B: one primary at a time, and it has every acknowledged write. Every put,
    and every read sent to a replica while the test knows it is the primary (``tenures``: each
    primary with the times from and until which its reads count), must be linearizable as one
    register per key: a put answered not_primary took no effect, one that timed out may take
    effect at any time after it was sent (even after a failover), and a read answered behind
    tells nothing. Reads at the other replicas may be stale (only the session guarantees hold
    there): left out, as are reads at a new primary before it acknowledged a write (it may
    still be catching up: :func:`serving_since`)."""

    def at_the_primary(invoked: Op) -> bool:
        return any(
            invoked.dest == name and since <= invoked.t < until for name, since, until in tenures
        )

    check_linearizable(history, KeyValueModel(), read=versioned_kv_read(reads=at_the_primary))


def serving_since(history: History, primary: str) -> float:
    """When ``primary`` first acknowledged a write: it had caught up by then."""
    return min((w.acknowledged for w in writes(history) if w.dest == primary), default=math.inf)


async def finals(
    run: LabRun, cluster: Cluster, *, among: list[str] | None = None
) -> list[ReplicaRead]:
    """What each replica of ``among`` (default: all) keeps now, read by a fresh client."""
    reader = await session(run, cluster, f"reader-{len(run.history)}")
    for replica in among or replicas(cluster):
        body = await reader.get(at=replica, seconds=1.0, fresh=True)
        if body is None:
            raise CheckFailed(
                f"{replica} did not answer a read of {KEY} within 1 s (at t={cluster.now():.3f} "
                f"s: {describe(cluster)})"
            )
    return [r for r in answered_reads(run.history, key=KEY) if r.client == reader.name]


async def converged(
    run: LabRun, cluster: Cluster, *, since: float, among: list[str] | None = None
) -> list[ReplicaRead]:
    """Wait until every replica keeps the same siblings; fail after CONVERGE_BOUND s."""
    names = among or replicas(cluster)

    def agree() -> bool:
        said = {
            (str(sorted(map(str, s.get("siblings", [])))), str(s.get("version")))
            for s in map(cluster.status_of, names)
        }
        return len(said) == 1

    same = await came_true(cluster, agree, CONVERGE_BOUND)
    said = describe(cluster)
    kept = await finals(run, cluster, among=names)
    try:
        converged_within(kept, since=since, bound=CONVERGE_BOUND)
    except CheckFailed:
        no_crashes(cluster.trace.events)  # a replica that crashed by itself: say why first
        raise
    if not same:  # they agree now, but did not within the bound
        no_crashes(cluster.trace.events)
        raise CheckFailed(
            f"the network was whole again from t={since:.3f} s, and {CONVERGE_BOUND:g} s later "
            f"the replicas still disagreed on {KEY}: {said}. Anti-entropy sends every peer "
            "what a replica keeps, and merging keeps every version no other descends from"
        )
    return kept


# -- on real sockets (first: it mostly waits, in real time, while the simulated tests run) ---------


@graded(points=1, seeds=3, budget=40, runtime="live")
async def test_on_real_sockets(run: LabRun) -> None:
    """On real sockets and real time: writes, the primary crashes, a failover, more writes;
    nothing acknowledged is lost."""
    async with replicas_cluster(run) as cluster:
        user = await session(run, cluster, "user-1")
        for n in range(1, 4):
            await must_put(user, f"v{n}", why="the primary is up")
        await run.schedule(cluster).fire(faults.crash("replica-1"))
        await failed_over(cluster, "replica-1", what="replica-1, the primary, crashed")
        user.primary = None
        await must_put(user, "after", why="a new primary was named")
        kept = await converged(run, cluster, since=cluster.now(), among=["replica-2", "replica-3"])
        acknowledged_writes_kept(run.history, kept, key=KEY)
    no_crashes(cluster.trace.events)


# -- Part A: the primary and its read replicas -----------------------------------------------------


@graded(points=2, seeds=20, budget=60)
async def test_writes_go_to_the_primary_and_reach_every_replica(run: LabRun) -> None:
    """A replica redirects a write to the primary; acknowledged writes reach every replica."""
    async with replicas_cluster(run, delay=0.005, jitter=0.004) as cluster:
        user = await session(run, cluster, "user-1")
        other = run.random.choice(["replica-2", "replica-3"])
        reply = await user.client.call(
            other, {"type": "put", "key": KEY, "value": "v0", "context": {}}, timeout=CALL_TIMEOUT
        )
        if reply is None or reply.type != "not_primary" or reply.body.get("primary") != "replica-1":
            said = "nothing" if reply is None else f"{reply.type} {dict(reply.body)}"
            raise CheckFailed(
                f"user-1 wrote {KEY} at {other}, a read replica (replica-1 is the primary); it "
                f"answered {said}: a replica that takes no writes answers not_primary, naming "
                "the primary"
            )
        for n in range(1, 4):
            await must_put(user, f"v{n}", why="a healthy network", at="replica-1")
        began = cluster.now()
        kept = await converged(run, cluster, since=began)
        if any(list(read.values) != ["v3"] for read in kept):
            said = "; ".join(f"{r.dest} keeps {list(r.values)}" for r in kept)
            raise CheckFailed(
                f"user-1 wrote v1, v2, v3 through the primary, one after the other: every "
                f"replica should keep v3 alone, but {said}"
            )
        acknowledged_writes_kept(run.history, kept, key=KEY)
        acknowledged_writes_ordered(run.history, key=KEY)
        linearizable_at_the_primary(run.history, ("replica-1", 0.0, math.inf))
    no_crashes(cluster.trace.events)


@graded(points=3, seeds=20, budget=60)
async def test_a_client_reads_its_own_writes_from_any_replica(run: LabRun) -> None:
    """One read replica lags (a slow link): a client still reads its own writes, and never a
    value older than one it read (the session's versions)."""
    lagging = run.random.choice(["replica-2", "replica-3"])
    config = {"sync_interval": 1.0}
    async with replicas_cluster(run, config, delay=0.005, jitter=0.004) as cluster:
        await run.schedule(cluster).fire(faults.slow_link("replica-1", lagging, delay=0.4))
        writer = await session(run, cluster, "user-1")
        reader = await session(run, cluster, "user-2")
        for n in range(1, 7):
            await must_put(writer, f"v{n}", why=f"{lagging} lags, the others do not")
            read = await writer.get(seconds=2.0)
            if read is None:
                raise CheckFailed(
                    f"user-1 could not read {KEY} from any replica within 2 s after writing "
                    f"v{n}: {describe(cluster)}"
                )
            for _ in range(2):
                await reader.get(seconds=2.0)
        checked = session_guarantees(run.history, key=KEY)
        if checked < 12:
            raise CheckFailed(f"only {checked} of 18 reads were answered: {describe(cluster)}")
        linearizable_at_the_primary(run.history, ("replica-1", 0.0, math.inf))
    no_crashes(cluster.trace.events)


@graded(points=2, seeds=20, budget=60)
async def test_stale_reads_are_bounded(run: LabRun) -> None:
    """The primary's copies never reach one replica: it catches up from the other
    (anti-entropy): no read misses a write acknowledged more than STALE_BOUND s before it
    began."""
    async with replicas_cluster(run, delay=0.005, jitter=0.004) as cluster:
        cluster.network.block("replica-1", run.random.choice(["replica-2", "replica-3"]))
        writer = await session(run, cluster, "user-1")
        reader = await session(run, cluster, "user-2")

        async def write() -> None:
            for n in range(1, 6):
                await writer.put(f"v{n}", seconds=1.0)
                await trio.sleep(0.2)

        async def read() -> None:
            await trio.sleep(1.0)
            names = replicas(cluster)
            for n in range(9):  # each replica in turn: the one that lags too
                await reader.get(at=names[n % len(names)], seconds=0.5, fresh=True)
                await trio.sleep(0.2)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            nursery.start_soon(read)
        if not writes(run.history):
            raise CheckFailed(f"no write was acknowledged in 4 s: {describe(cluster)}")
        stale_reads_within(run.history, STALE_BOUND, key=KEY)
        linearizable_at_the_primary(run.history, ("replica-1", 0.0, math.inf))
    no_crashes(cluster.trace.events)


# -- Part B: failover without losing an acknowledged write -----------------------------------------


async def keep_writing(
    user: Session, cluster: Cluster, until: float, prefix: str, at: str | None = None
) -> None:
    """Write ``prefix1``, ``prefix2``, ... one after the other (each acknowledged or given up),
    PAUSE s apart; at ``at``, or the primary."""
    n = 0
    while cluster.now() < until:
        n += 1
        await user.put(f"{prefix}{n}", at=at, seconds=min(1.5, max(0.1, until - cluster.now())))
        await trio.sleep(PAUSE)


async def failed_over(cluster: Cluster, old: str, *, what: str) -> str:
    """Wait until the operator names another primary than ``old``; return it."""
    if not await came_true(
        cluster, lambda: cluster.status_of("operator").get("primary") not in (None, old), 3.0
    ):
        raise CheckFailed(f"{what}: the operator did not fail over within 3 s")
    primary: str = cluster.status_of("operator")["primary"]
    return primary


@graded(points=3, seeds=20, budget=60)
async def test_no_acknowledged_write_is_lost_when_the_primary_crashes(run: LabRun) -> None:
    """The primary is cut off from its replicas (its clients still reach it), then crashes for
    good: every write it acknowledged is still there after the failover."""
    async with replicas_cluster(run, delay=0.005, jitter=0.004) as cluster:
        user = await session(run, cluster, "user-1")
        for n in range(1, 3):
            await must_put(user, f"v{n}", why="a healthy network")
        cut(cluster, ["replica-1"], ["replica-2", "replica-3"])
        cut_at = cluster.now()
        await keep_writing(user, cluster, cut_at + run.random.uniform(0.3, 0.8), "cut")
        await run.schedule(cluster).fire(faults.crash("replica-1"))
        crashed = cluster.now()
        new = await failed_over(cluster, "replica-1", what="replica-1, the primary, crashed")
        other = await session(run, cluster, "user-2")  # its session has seen none of user-1's
        other.primary = None
        await keep_writing(other, cluster, cluster.now() + 1.0, "after")
        kept = await converged(run, cluster, since=cluster.now(), among=["replica-2", "replica-3"])
        acknowledged_writes_kept(run.history, kept, key=KEY)
        acknowledged_writes_ordered(run.history, key=KEY)
        linearizable_at_the_primary(
            run.history,
            ("replica-1", 0.0, crashed),
            (new, serving_since(run.history, new), math.inf),
        )
    no_crashes(cluster.trace.events)


@graded(points=3, seeds=20, budget=60)
async def test_a_new_primary_catches_up_before_it_writes(run: LabRun) -> None:
    """The replica that becomes primary missed the last writes (its link from the primary was
    down): it catches up before its first write, so every write descends from the earlier ones."""
    config = {"sync_interval": 3.0}  # anti-entropy rare: catching up is the new primary's job
    async with replicas_cluster(run, config, delay=0.005, jitter=0.004) as cluster:
        user = await session(run, cluster, "user-1")
        await must_put(user, "v1", why="a healthy network")
        cluster.network.block("replica-1", "replica-2")
        for n in range(2, 2 + run.random.randint(1, 3)):
            await must_put(user, f"v{n}", why="replica-3 still gets every copy")
        await run.schedule(cluster).fire(faults.crash("replica-1"))
        crashed = cluster.now()
        cluster.network.heal()
        new = await failed_over(cluster, "replica-1", what="replica-1, the primary, crashed")
        other = await session(run, cluster, "user-2")  # its session has seen none of user-1's
        other.primary = new
        for n in range(1, 4):
            await must_put(other, f"new{n}", why=f"{new} is the primary")
        written = acknowledged_writes_ordered(run.history, key=KEY)
        last = writes(run.history)[-1]
        read = await user.get(at=new, seconds=1.0, fresh=True)
        if read is None or [s["value"] for s in read["siblings"]] != [last.value]:
            said = "nothing" if read is None else [s["value"] for s in read["siblings"]]
            raise CheckFailed(
                f"user-1 then user-2 wrote {written} values one after the other, the last "
                f"{last.value!r}; "
                f"the new primary {new} answers {said}"
            )
        linearizable_at_the_primary(
            run.history,
            ("replica-1", 0.0, crashed),
            (new, serving_since(run.history, new), math.inf),
        )
    no_crashes(cluster.trace.events)


@graded(points=2, seeds=20, budget=60)
async def test_a_restarted_replica_keeps_what_it_stored(run: LabRun) -> None:
    """Replicas crash right after they confirm a copy, and then all three at once: every
    acknowledged write is still there when they restart."""
    async with replicas_cluster(run, delay=0.005, jitter=0.004) as cluster:
        user = await session(run, cluster, "user-1")
        victim = run.random.choice(["replica-2", "replica-3"])
        if cluster.state(victim) != "up":
            no_crashes(cluster.trace.events)  # it crashed by itself: say why
            raise CheckFailed(f"{victim} is {cluster.state(victim)} from the start")
        await run.schedule(cluster).fire(faults.crash_after(victim, "replicated"))
        for n in range(1, 5):
            await must_put(user, f"v{n}", why="at most one replica is down")
            if cluster.state(victim) == "crashed":
                await cluster.restart(victim)
        for name in replicas(cluster):
            await run.schedule(cluster).fire(faults.crash(name))
        await trio.sleep(0.1)  # down long enough for the messages they sent to be lost
        for name in replicas(cluster):
            await run.schedule(cluster).fire(faults.restart(name))
        await trio.sleep(0.5)
        kept = await finals(run, cluster)
        acknowledged_writes_kept(run.history, kept, key=KEY)
        linearizable_at_the_primary(run.history, ("replica-1", 0.0, math.inf))
    no_crashes(cluster.trace.events)


@graded(points=3, seeds=20, budget=60)
async def test_an_old_primary_cannot_collect_copies(run: LabRun) -> None:
    """The primary is cut off from the operator and the next primary only: a new primary is
    named while the old one still takes writes, and still reaches replica-3. Replica-3 refuses
    its copies (an older epoch): two primaries never both acknowledge writes."""
    config = {"sync_interval": 3.0}  # anti-entropy rare: the two lines of writes stay apart
    async with replicas_cluster(run, config, delay=0.005, jitter=0.004) as cluster:
        old_side = await session(run, cluster, "user-1")
        await must_put(old_side, "v1", why="a healthy network")
        # Cut off from the operator, and from replica-2, the primary the operator will name next:
        # only replica-3's epoch stands between the old primary and a quorum.
        cut(cluster, ["replica-1"], ["operator", "replica-2"])
        new = await failed_over(cluster, "replica-1", what="the operator lost replica-1")
        new_side = await session(run, cluster, "user-2")
        until = cluster.now() + 1.0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_writing, old_side, cluster, until, "old", "replica-1")
            nursery.start_soon(keep_writing, new_side, cluster, until, "new", new)
        if not any(w.client == "user-2" for w in writes(run.history)):
            raise CheckFailed(f"the new primary {new} acknowledged nothing: {describe(cluster)}")
        acknowledged_writes_ordered(run.history, key=KEY)
    no_crashes(cluster.trace.events)


# -- Part C: every replica writes: conflicts and siblings ------------------------------------------


@graded(points=3, seeds=20, budget=60)
async def test_concurrent_writes_become_siblings(run: LabRun) -> None:
    """Every replica writes; the key is written on both sides of a partition. After the heal every
    replica keeps both sides' last writes as siblings: no acknowledged write is lost."""
    async with replicas_cluster(run, MULTI_WRITER, delay=0.005, jitter=0.004) as cluster:
        left, right = await session(run, cluster, "user-1"), await session(run, cluster, "user-2")
        await must_put(left, "before", at="replica-1", why="a healthy network")
        await trio.sleep(0.5)
        alone = run.random.choice(replicas(cluster))
        others = [r for r in replicas(cluster) if r != alone]
        cut(cluster, [alone], others)
        for n in range(1, 1 + run.random.randint(1, 3)):
            await must_put(left, f"left{n}", at=alone, why=f"{alone} takes writes alone")
        for n in range(1, 1 + run.random.randint(1, 3)):
            at = run.random.choice(others)
            await must_put(right, f"right{n}", at=at, why=f"{at} takes writes")
        await trio.sleep(0.3)
        cluster.network.heal()
        kept = await converged(run, cluster, since=cluster.now())
        acknowledged_writes_kept(run.history, kept, key=KEY)
        last = {w.client: w.value for w in writes(run.history)}
        expected = sorted([last["user-1"], last["user-2"]])
        if sorted(map(str, kept[0].values)) != expected:
            raise CheckFailed(
                f"after the heal every replica keeps {KEY} = {list(kept[0].values)}: it should "
                f"keep exactly the two concurrent writes, {expected} (each side's last)"
            )
    no_crashes(cluster.trace.events)


@graded(points=2, seeds=20, budget=60)
async def test_a_write_with_the_read_context_resolves_siblings(run: LabRun) -> None:
    """A client reads two siblings and writes their resolution with the version it read, at a
    replica that has not heard of either yet: once all converge, the resolution alone is left."""
    async with replicas_cluster(run, MULTI_WRITER, delay=0.005, jitter=0.004) as cluster:
        user, other = await session(run, cluster, "user-1"), await session(run, cluster, "user-2")
        names = replicas(cluster)
        run.random.shuffle(names)
        a, b, c = names
        cut(cluster, [a], [b, c])
        cut(cluster, [b], [c])
        await must_put(user, "one", at=a, why=f"{a} takes writes")
        await must_put(other, "two", at=b, why=f"{b} takes writes")
        cluster.network.heal()
        cut(cluster, [c], [a, b])  # a and b converge; c hears of neither write
        healed = cluster.now()
        both = await converged(run, cluster, since=healed, among=[a, b])
        if sorted(both[0].values) != ["one", "two"]:
            raise CheckFailed(
                f"{a} and {b} should keep one and two as siblings: {list(both[0].values)}"
            )
        read = await user.get(at=a, seconds=1.0)
        if read is None:
            raise CheckFailed(f"{a} did not answer user-1's read: {describe(cluster)}")
        await must_put(user, "one+two", at=c, context=read["version"], why=f"{c} takes writes")
        cluster.network.heal()
        kept = await converged(run, cluster, since=cluster.now())
        if list(kept[0].values) != ["one+two"]:
            raise CheckFailed(
                f"user-1 read {KEY} = {sorted(both[0].values)} at {a}, version "
                f"{version_words(read['version'])}, and wrote one+two at {c} with that version "
                f"as context; after the heal the replicas keep {list(kept[0].values)}: a write "
                "with the context it read descends from every sibling it read, and replaces them"
            )
    no_crashes(cluster.trace.events)
