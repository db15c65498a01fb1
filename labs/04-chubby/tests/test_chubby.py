"""Lab 4's graded tests.

Each test starts the five replicas from the implementation being graded (the lab's demo clients
stay idle: ``client_turns = 0``), breaks the cluster on a plan (crashes, restarts, partitions),
and drives its own clients (``run.client``: ``user-1``, ``user-2``) when it needs the lock. What
it checks, it reads from the replicas' status (``role``, ``term``, ``leader``) and from the
trace: every ``role="leader"`` a replica published with its term, the votes it sent, and every
``granted`` delivered to a client.

Every wait is bounded, so an implementation that never elects anyone fails in plain words
instead of running out of time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from distlab import Cluster, TraceEvent
from distlab.grading import (
    CheckFailed,
    Client,
    LabRun,
    LeaseLockModel,
    Op,
    OpInput,
    at_most_one_per_term,
    check_linearizable,
    faults,
    first_event,
    graded,
    leaders_elected_by_a_majority,
    lease_read,
    no_crashes,
    no_grant_after_a_newer_leader,
    one_holder_at_a_time,
    one_vote_per_term,
    within,
)

#: seconds within which replicas that can talk must agree on a leader: a few election timeouts
#: (config: 0.3 to 0.6 s), in case the first votes split
ELECTION_BOUND = 2.0
#: seconds within which the whole cluster agrees on one leader again after a partition heals
#: (a replica that was cut off comes back with a newer term, and may cause one more election)
CONVERGENCE_BOUND = 3.0
#: seconds a test client waits for a replica's answer
CALL_TIMEOUT = 0.25
#: seconds a test client waits before asking again after a refusal
RETRY = 0.05
#: seconds the late-votes test keeps every link slower than the election timeouts
SLOW_FOR = 3.0
#: seconds the link between the leader and one follower stays down in the one-link test
ONE_LINK_DOWN = 1.5
#: seconds the followers' answers take to reach the leader in the slow-answers test: late, but
#: well within a master lease (0.25 s), so that a correct leader keeps its lease
SLOW_ANSWERS = 0.15
#: seconds the zombie test keeps the leader paused: long enough for the others to elect a new
#: leader (0.3 to 0.6 s, more if the votes split) and for it to grant after its grace (0.6 s)
ZOMBIE_PAUSE = 1.6

LEADER = faults.node_where(lambda s: s.get("role") == "leader", description="the leader")


# -- the cluster, and what its replicas say -------------------------------------------------------


def chubby_cluster(
    run: LabRun, config: dict[str, Any] | None = None, **network: Any
) -> AbstractAsyncContextManager[Cluster]:
    """The lab's cluster with the demo clients idle; ``config`` overrides some parameters;
    ``network`` settings as for run.cluster."""
    return run.cluster(config={"client_turns": 0, **(config or {})}, **network)


def replicas(cluster: Cluster) -> list[str]:
    return cluster.roster.with_role("replica")


def describe(cluster: Cluster, names: Iterable[str] | None = None) -> str:
    """Each replica's state and what it says, for failure messages."""
    said = []
    for name in names or replicas(cluster):
        if cluster.state(name) != "up":
            said.append(f"{name} is {cluster.state(name)}")
            continue
        s = cluster.status_of(name)
        role, term = s.get("role", "?"), s.get("term", "?")
        if role == "leader":
            said.append(f"{name} leads term {term}")
        else:
            said.append(f"{name} is {role} in term {term}, following {s.get('leader')}")
    return "; ".join(said)


def agreed_leader(cluster: Cluster, among: Iterable[str] | None = None) -> str | None:
    """The leader every running replica of ``among`` (default: all) agrees on, or None.

    Agreed means: exactly one of them says it leads, and every other one says it follows that
    leader, in the same term.
    """
    up = [name for name in among or replicas(cluster) if cluster.state(name) == "up"]
    statuses = {name: cluster.status_of(name) for name in up}
    leading = [name for name, s in statuses.items() if s.get("role") == "leader"]
    if len(leading) != 1:
        return None
    leader, term = leading[0], statuses[leading[0]].get("term")
    for name, s in statuses.items():
        if name != leader and (
            s.get("role") != "follower" or s.get("leader") != leader or s.get("term") != term
        ):
            return None
    return leader


async def came_true(cluster: Cluster, predicate: Callable[[], object], seconds: float) -> bool:
    """Whether ``predicate()`` holds now or becomes true within ``seconds``."""
    with trio.move_on_after(seconds):
        await cluster.wait_until(lambda: bool(predicate()))
        return True
    return False


async def leader_within(
    cluster: Cluster, seconds: float, *, among: list[str] | None = None, what: str
) -> str:
    """Wait until the replicas of ``among`` agree on a leader; fail after ``seconds``."""
    began = cluster.now()
    if await came_true(cluster, lambda: agreed_leader(cluster, among), seconds):
        leader = agreed_leader(cluster, among)
        assert leader is not None
        return leader
    no_crashes(cluster.trace.events)  # a replica that crashed by itself says why
    raise CheckFailed(
        f"{what}: the replicas {', '.join(among or replicas(cluster))} did not agree on a "
        f"leader within {seconds:g} s of t={began:.3f} s. At t={cluster.now():.3f} s: "
        f"{describe(cluster, among)}"
    )


def term_of(cluster: Cluster, replica: str) -> int:
    term: int = cluster.status_of(replica).get("term", 0)
    return term


def partition(
    cluster: Cluster, minority: list[str], *, clients: dict[str, str] | None = None
) -> None:
    """Cut the replicas of ``minority`` off from the others; ``clients`` say which side they are on
    (``"minority"`` or ``"majority"``; the lab's idle demo clients are left on their own)."""
    majority = [r for r in replicas(cluster) if r not in minority]
    sides: dict[str, list[str]] = {"minority": list(minority), "majority": majority}
    for client, side in (clients or {}).items():
        sides[side].append(client)
    cluster.network.partition(sides)


# -- Part A: electing one leader ------------------------------------------------------------------


@graded(points=2, seeds=25, budget=90)
async def test_one_leader_is_elected(run: LabRun) -> None:
    """On a healthy network, the replicas elect one leader, and keep it."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        leader = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        term = term_of(cluster, leader)
        await trio.sleep(1.0)
        if agreed_leader(cluster) != leader or term_of(cluster, leader) != term:
            raise CheckFailed(
                f"{leader} was elected leader of term {term}, but on a network that lost nothing "
                f"and with every replica up, it did not stay leader for 1 s: at "
                f"t={cluster.now():.3f} s {describe(cluster)}. Does the leader send heartbeats "
                "often enough, and does a heartbeat reset a follower's election timer?"
            )
    at_most_one_per_term(cluster.trace.events)
    no_crashes(cluster.trace.events)


@graded(points=3, seeds=30, budget=120)
async def test_at_most_one_leader_per_term(run: LabRun) -> None:
    """Elections that collide (narrow timeouts, leaders crashed): never two leaders in a term."""
    # Election timeouts all within 20 ms of each other: replicas often stand at once, and split
    # the votes. Each replica must vote at most once per term for that to end well.
    narrow = {"election_timeout_max": 0.32}
    async with chubby_cluster(run, narrow, delay=0.01, jitter=0.008) as cluster:
        schedule = run.schedule(cluster)
        schedule.every(0.6, faults.crash(LEADER), until=3.0)
        schedule.every(
            0.6, faults.restart(faults.random_node("replica", state="crashed")), start=0.3
        )
        async with schedule.running():
            await trio.sleep(3.5)
        terms = at_most_one_per_term(cluster.trace.events)
    if not terms:
        no_crashes(cluster.trace.events)  # a replica that crashed by itself says why
        raise CheckFailed(f"no replica was ever elected leader in 3.5 s: {describe(cluster)}")
    no_crashes(cluster.trace.events)


@graded(points=2, seeds=30, budget=120)
async def test_late_votes_count_for_nothing(run: LabRun) -> None:
    """Links slower than the election timeouts: a vote that arrives after its election is over
    counts for nothing, so every leader was elected by a majority of its own term."""
    # Each message takes 0.05 to 0.45 s: a request for votes and its answer often take longer
    # than a candidate waits (0.3 to 0.6 s) before it stands again, in a newer term.
    async with chubby_cluster(run, delay=0.25, jitter=0.2) as cluster:
        await trio.sleep(SLOW_FOR)
        cluster.network.set_faults(delay=0.005, jitter=0.004)
        await leader_within(
            cluster,
            CONVERGENCE_BOUND,
            what=f"after every link took 0.05 to 0.45 s until t={SLOW_FOR:g} s, then 5 ms",
        )
    events = cluster.trace.events
    leaders_elected_by_a_majority(events, voters=replicas(cluster))
    one_vote_per_term(events)
    at_most_one_per_term(events)
    no_crashes(events)


# -- Part B: failures ----------------------------------------------------------------------------


@graded(points=2, seeds=30, budget=90)
async def test_a_new_leader_after_the_leader_crashes(run: LabRun) -> None:
    """The leader crashes: the others elect a new one; back up, the old leader follows it."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        old = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        old_term = term_of(cluster, old)
        await trio.sleep(run.random.uniform(0.1, 0.5))
        await cluster.crash(old)
        crashed = cluster.now()
        others = [r for r in replicas(cluster) if r != old]
        new = await leader_within(
            cluster, ELECTION_BOUND, among=others, what=f"after {old} (leader) crashed"
        )
        if term_of(cluster, new) <= old_term:
            raise CheckFailed(
                f"{old} led term {old_term} and crashed at t={crashed:.3f} s; {new} then led term "
                f"{term_of(cluster, new)}: a new leader needs a new, higher term"
            )
        await cluster.restart(old)
        await leader_within(
            cluster, ELECTION_BOUND, what=f"after {old} (the crashed leader) restarted"
        )
    at_most_one_per_term(cluster.trace.events)
    no_crashes(cluster.trace.events)


@graded(points=2, seeds=25, budget=90)
async def test_a_minority_never_elects_a_leader(run: LabRun) -> None:
    """The leader and one follower are cut off: the three others elect a new leader; the two
    never do, and the old leader steps down once its master lease lapses."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        old = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        minority = [old, run.random.choice([r for r in replicas(cluster) if r != old])]
        majority = [r for r in replicas(cluster) if r not in minority]
        await trio.sleep(run.random.uniform(0.0, 0.2))
        partition(cluster, minority)
        cut = cluster.now()
        words = f"{' and '.join(minority)} were cut off from the others at t={cut:.3f} s"
        await leader_within(cluster, ELECTION_BOUND, among=majority, what=words)
        await trio.sleep(max(0.0, cut + 2.5 - cluster.now()))
        cluster.network.heal()
    events = cluster.trace.events
    lease = cluster.config["election_timeout_min"] + cluster.config["heartbeat_interval"]
    within(
        events,
        after=cut,
        seconds=lease,
        node=old,
        predicate=lambda s: s.get("role") != "leader",
        what=f"{words}; the old leader {old}, without a majority, steps down once its master "
        "lease lapses",
    )
    elected = [
        e
        for e in events
        if e.t > cut
        and e.kind == "status"
        and e["node"] in minority
        and e["fields"].get("role") == "leader"
    ]
    if elected:
        raise CheckFailed(
            f"{words}, and {elected[0]['node']} became leader at t={elected[0].t:.3f} s, with "
            "the votes of at most two of the five replicas: a leader needs a majority (3 of 5)"
        )
    at_most_one_per_term(events)
    no_crashes(events)


@graded(points=3, seeds=25, budget=120)
async def test_one_leader_again_after_the_partition_heals(run: LabRun) -> None:
    """After a partition heals, the five replicas agree on one leader again, in time."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        leader = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        followers = [r for r in replicas(cluster) if r != leader]
        # First two followers are cut off (they stand for election, in term after term), then
        # the leader with one follower (the others elect a new leader meanwhile).
        for minority in (run.random.sample(followers, 2), [leader, run.random.choice(followers)]):
            partition(cluster, minority)
            await trio.sleep(1.5)
            cluster.network.heal()
            healed = cluster.now()
            leader = await leader_within(
                cluster,
                CONVERGENCE_BOUND,
                what=f"after {' and '.join(minority)} were cut off from the others for 1.5 s, "
                f"until t={healed:.3f} s",
            )
            followers = [r for r in replicas(cluster) if r != leader]
    at_most_one_per_term(cluster.trace.events)
    no_crashes(cluster.trace.events)


@graded(points=2, seeds=20, budget=90)
async def test_a_replica_cut_off_from_the_leader_alone_gets_no_votes(run: LabRun) -> None:
    """One link is down: a follower and the leader cannot reach each other. The follower stands
    for election again and again; the others, who hear the leader, ignore it (their promise):
    the leader stays leader, and keeps the lock going."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        leader = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        loner = run.random.choice([r for r in replicas(cluster) if r != leader])
        alice = await run.client(cluster, "user-1")
        await must_acquire(alice, cluster, seconds=2.0, why="the lock was free")
        cluster.network.block(leader, loner)
        cluster.network.block(loner, leader)
        cut = cluster.now()
        await keep_asking(alice, cluster, leader, cut + ONE_LINK_DOWN)
    story = (
        f"{leader} led; at t={cut:.3f} s the link between it and {loner} went down (both ways), "
        f"and stayed down for {ONE_LINK_DOWN:g} s, while user-1 kept asking {leader} for the lock"
    )
    events = cluster.trace.events
    with told(story):
        no_grant_after_a_newer_leader(events)
        one_holder_at_a_time(run.history)
        the_lock_is_linearizable(run)
        at_most_one_per_term(events)
    stepped_down = next(
        (
            e
            for e in events
            if e.t > cut
            and e.kind == "status"
            and e["node"] == leader
            and e["fields"].get("role", "leader") != "leader"
        ),
        None,
    )
    if stepped_down is not None:
        votes = sorted(
            {
                e["src"]
                for e in events
                if e.t > cut
                and e.kind == "send"
                and e["dest"] == loner
                and e["body"].get("type") == "vote"
                and e["body"].get("granted")
            }
        )
        voted = f"{', '.join(votes)} voted for {loner}" if votes else f"{loner} got no vote"
        raise CheckFailed(
            f"{story}. {leader} stopped leading at t={stepped_down.t:.3f} s ({voted}). The other "
            f"replicas heard {leader} all along: while a replica hears a leader it ignores every "
            "request for its vote, newer term or not, so a replica that alone cannot hear the "
            "leader is never elected"
        )
    no_crashes(events)


@dataclass
class Promise:
    """The newest term a replica made known, and its vote in it, as the trace shows them."""

    term: int = 0
    voted_for: str | None = None
    said: str = "nothing yet"

    def update(self, term: Any, voted_for: Any, said: str) -> None:
        if not isinstance(term, int) or term < self.term:
            return
        if term > self.term:
            self.term, self.voted_for, self.said = term, None, said
        if voted_for is not None:
            self.voted_for, self.said = voted_for, said


def check_restarts_keep_term_and_vote(events: list[TraceEvent], names: list[str]) -> int:
    """After each restart, a replica's first published term and vote are at least what it made
    known before (published, or sent in a vote or a request for votes). Returns the restarts."""
    promises = {name: Promise() for name in names}
    restarted: dict[str, tuple[float, Promise]] = {}  # replicas whose first status is awaited
    checked = 0
    for e in events:
        node = e.get("node") or e.get("src")
        if node not in promises:
            continue
        if e.kind == "restart":
            before = promises[node]
            restarted[node] = (e.t, Promise(before.term, before.voted_for, before.said))
        elif e.kind == "status" and node in restarted and "term" in e["fields"]:
            at, before = restarted.pop(node)
            term, vote = e["fields"]["term"], e["fields"].get("voted_for")
            forgot = term < before.term or (
                term == before.term and before.voted_for not in (None, vote)
            )
            if forgot:
                raise CheckFailed(
                    f"{node} restarted at t={at:.3f} s and then said term={term}, "
                    f"voted_for={vote!r}; but before it crashed it had {before.said}. A replica "
                    "must keep its term and vote in storage, written before it answers: "
                    "otherwise it may vote twice in one term"
                )
            checked += 1
        if e.kind == "status":
            fields = e["fields"]
            said = f"published term={fields.get('term')}, voted_for={fields.get('voted_for')!r}"
            promises[node].update(fields.get("term"), fields.get("voted_for"), said)
        elif e.kind == "send" and e["body"].get("type") == "vote" and e["body"].get("granted"):
            term = e["body"].get("term")
            said = f"sent {e['dest']} its vote in term {term} at t={e.t:.3f} s"
            promises[node].update(term, e["dest"], said)
        elif e.kind == "send" and e["body"].get("type") == "request_vote":
            term = e["body"].get("term")
            said = f"asked for votes in term {term} at t={e.t:.3f} s (so it voted for itself)"
            promises[node].update(term, node, said)
    return checked


@graded(points=2, seeds=25, budget=120)
async def test_a_restarted_replica_keeps_its_term_and_vote(run: LabRun) -> None:
    """Replicas crash and restart, leaders too: each comes back with its term and its vote."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        await leader_within(cluster, ELECTION_BOUND, what="from the start")
        schedule = run.schedule(cluster)
        schedule.every(0.6, faults.crash(LEADER), until=2.5)
        schedule.every(0.6, faults.crash(faults.random_node("replica")), start=0.3, until=2.5)
        schedule.every(
            0.3, faults.restart(faults.random_node("replica", state="crashed")), start=0.4
        )
        async with schedule.running():
            await trio.sleep(3.0)
        await schedule.final_heal()
        await leader_within(cluster, ELECTION_BOUND, what="after the last restart")
    restarts = check_restarts_keep_term_and_vote(cluster.trace.events, replicas(cluster))
    if restarts == 0:
        raise CheckFailed("no restarted replica published its term: nothing could be checked")
    at_most_one_per_term(cluster.trace.events)
    no_crashes(cluster.trace.events)


def crash_point_of(e: TraceEvent, node: str, *, since: float) -> bool:
    """Whether ``e`` is ``node`` crashing at a crash point the test armed, at ``since`` or later."""
    return (
        e.kind == "crash"
        and e["node"] == node
        and e.t >= since - 1e-6  # (trace times are rounded)
        and "a crash point" in str(e.get("reason", ""))
    )


@graded(points=2, seeds=25, budget=120)
async def test_a_replica_crashed_right_after_it_answers_keeps_its_term_and_vote(
    run: LabRun,
) -> None:
    """Every replica crashes and restarts: right after it sends a vote, or (the leader) while
    leading, then right after it acknowledges the next leader. Each comes back with the term and
    the vote it had made known, and never votes twice in a term."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        schedule = run.schedule(cluster)
        for name in replicas(cluster):  # each one's first vote is its last, in that incarnation
            await schedule.fire(faults.crash_after(name, "vote"))
        restarts = faults.restart(faults.random_node("replica", state="crashed"))
        schedule.every(0.15, restarts, until=1.0)
        async with schedule.running():
            await trio.sleep(1.0)
        await schedule.final_heal()
        old = await leader_within(cluster, ELECTION_BOUND, what="after the voters restarted")
        # The leader crashes, and stays down while the others elect a new one.
        await cluster.crash(old)
        others = [r for r in replicas(cluster) if r != old]
        await leader_within(cluster, ELECTION_BOUND, among=others, what=f"after {old} crashed")
        # Back up, it learns the new term from the new leader's heartbeat, acknowledges it,
        # and crashes right then; and restarts again.
        await cluster.restart(old)
        back = cluster.now()
        await schedule.fire(faults.crash_after(old, "heartbeat_reply"))
        if await first_event(cluster, lambda e: crash_point_of(e, old, since=back), seconds=1.0):
            await cluster.restart(old)
        # A replica that never voted (it stood, or heard a leader first) restarts now: every
        # replica's storage is read back at least once.
        crashed_once = {e["node"] for e in cluster.trace.events if e.kind == "crash"}
        for name in replicas(cluster):
            if name not in crashed_once:
                await cluster.restart(name)
        await leader_within(cluster, ELECTION_BOUND, what="after the last restart")
    events = cluster.trace.events
    checked = check_restarts_keep_term_and_vote(events, replicas(cluster))
    if checked == 0:
        raise CheckFailed("no restarted replica published its term: nothing could be checked")
    one_vote_per_term(events)
    at_most_one_per_term(events)
    no_crashes(events)


# -- Part C: the lock ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """A client held the lock from the delivery of a grant until it ran out or was given back."""

    client: str
    start: float
    end: float
    granted_by: str
    term: Any
    expires: float

    def words(self) -> str:
        return (
            f"{self.client} from t={self.start:.3f} s until t={self.end:.3f} s (granted by "
            f"{self.granted_by} in term {self.term}, expiring at t={self.expires:.3f} s)"
        )


def lock_holds(events: list[TraceEvent], clients: Iterable[str]) -> list[Hold]:
    """Every hold of the lock by ``clients``, from the trace."""
    clients = set(clients)
    sent = {e["mid"]: e for e in events if e.kind == "send"}
    releases = [e for e in sent.values() if e["body"].get("type") == "release"]
    holds = []
    for e in events:
        send = sent.get(e.get("mid")) if e.kind == "deliver" else None
        if send is None or e["dest"] not in clients or send["body"].get("type") != "granted":
            continue
        expires = float(send["body"].get("expires", 0.0))
        gave_back = [r.t for r in releases if r["src"] == e["dest"] and r.t >= e.t]
        end = min([expires, *gave_back])
        holds.append(Hold(e["dest"], e.t, end, send["src"], send["body"].get("term"), expires))
    return holds


def check_one_holder_at_a_time(events: list[TraceEvent], clients: Iterable[str]) -> list[Hold]:
    """No two clients ever held the lock at the same moment; returns every hold."""
    holds = sorted(lock_holds(events, clients), key=lambda h: h.start)
    for i, a in enumerate(holds):
        for b in holds[i + 1 :]:
            if b.start >= a.end:
                break  # sorted by start: no later hold overlaps a either
            if a.client != b.client:
                raise CheckFailed(
                    f"two clients held the lock at once, from t={b.start:.3f} s: {a.words()}, "
                    f"and {b.words()}"
                )
    return holds


async def acquire(user: Client, cluster: Cluster, *, seconds: float) -> dict[str, Any] | None:
    """Ask for the lock until granted, following redirects; the ``granted`` body, or None.

    Silence or "no leader known": ask the next replica. ``busy`` or ``unavailable``: ask the
    same leader again a little later.
    """
    deadline = cluster.now() + seconds
    names = replicas(cluster)
    replica: str | None = names[0]
    turn = 0
    while cluster.now() < deadline:
        if replica is None:
            turn += 1
            replica = names[turn % len(names)]
        reply = await user.call(replica, {"type": "acquire"}, timeout=CALL_TIMEOUT)
        if reply is not None and reply.type == "granted":
            return dict(reply.body)
        if reply is None:
            replica = None
            continue
        if reply.type == "not_leader":
            replica = reply.body.get("leader")
            if isinstance(replica, str) and replica in names:
                continue
            replica = None
        await trio.sleep(RETRY)
    return None


def lock_requests(invoked: Op, completed: Op | None) -> tuple[OpInput, Any] | None:
    """The history's requests for the lock, with their times (pings and the like left out)."""
    return lease_read(invoked, completed) if invoked.f in ("acquire", "release") else None


def the_lock_is_linearizable(run: LabRun) -> None:
    """Every answer the clients got fits one lock whose grants run out at their ``expires``,
    each request taking effect at one instant between the request and its answer: a refusal
    only while another client held it, a grant only once it was free, a release freeing it only
    for its holder. (Redirects and ``unavailable`` took no effect.) On real sockets the replicas'
    clocks and the clients' differ by a little: 50 ms of slack."""
    model = LeaseLockModel(slack=0.05 if run.runtime == "live" else 0.0)
    check_linearizable(run.history, model, read=lock_requests)


async def must_acquire(
    user: Client, cluster: Cluster, *, seconds: float, why: str
) -> dict[str, Any]:
    began = cluster.now()
    granted = await acquire(user, cluster, seconds=seconds)
    if granted is None:
        raise CheckFailed(
            f"{user.name} asked for the lock from t={began:.3f} s ({why}) and was not granted it "
            f"within {seconds:g} s. At t={cluster.now():.3f} s: {describe(cluster)}"
        )
    return granted


@graded(points=2, seeds=20, budget=90)
async def test_the_leader_grants_the_lock_and_followers_redirect(run: LabRun) -> None:
    """A follower redirects to the leader; the leader grants, refuses (busy), and frees the lock."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        leader = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        alice = await run.client(cluster, "user-1")
        bob = await run.client(cluster, "user-2")
        follower = run.random.choice([r for r in replicas(cluster) if r != leader])
        reply = await alice.call(follower, {"type": "acquire"}, timeout=CALL_TIMEOUT)
        said = "nothing" if reply is None else answer_words(reply.body)
        if reply is None or reply.type != "not_leader" or reply.body.get("leader") != leader:
            raise CheckFailed(
                f"user-1 asked the follower {follower} for the lock, while {leader} led; it "
                f"answered {said}: a follower answers not_leader, naming the leader"
            )
        granted = await must_acquire(alice, cluster, seconds=2.0, why="the lock was free")
        lease = cluster.config["lock_lease"]
        if not cluster.now() < float(granted.get("expires", 0.0)) <= cluster.now() + lease:
            raise CheckFailed(
                f"{leader} granted user-1 the lock at about t={cluster.now():.3f} s, expiring at "
                f"{granted.get('expires')}: a grant expires lock_lease ({lease:g} s) after it "
                "is made, on the cluster's clock (self.now())"
            )
        busy = await bob.call(leader, {"type": "acquire"}, timeout=CALL_TIMEOUT)
        said = "nothing" if busy is None else answer_words(busy.body)
        if busy is None or busy.type != "busy" or busy.body.get("holder") != "user-1":
            raise CheckFailed(
                f"user-2 asked the leader {leader} for the lock while user-1 held it; it "
                f"answered {said}: it should answer busy, naming the holder"
            )
        released = await alice.call(leader, {"type": "release"}, timeout=CALL_TIMEOUT)
        if released is None or released.type != "released":
            raise CheckFailed(f"user-1 gave the lock back to {leader}, which did not confirm it")
        await must_acquire(bob, cluster, seconds=0.5, why="user-1 had just given it back")
        status = cluster.status_of(leader)
        if status.get("holder") != "user-2":
            raise CheckFailed(
                f"user-2 holds the lock, but the leader {leader} publishes "
                f"holder={status.get('holder')!r}: publish the holder (status(holder=...))"
            )
    check_one_holder_at_a_time(cluster.trace.events, ["user-1", "user-2"])
    the_lock_is_linearizable(run)
    no_crashes(cluster.trace.events)


@graded(points=2, seeds=25, budget=120)
async def test_a_lease_runs_out_when_its_holder_goes_quiet(run: LabRun) -> None:
    """A holder renews its lease, then goes quiet: the lock is free once the lease runs out."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        leader = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        alice = await run.client(cluster, "user-1")
        bob = await run.client(cluster, "user-2")
        first = await must_acquire(alice, cluster, seconds=2.0, why="the lock was free")
        await trio.sleep(run.random.uniform(0.1, 0.4))
        asked = cluster.now()
        reply = await alice.call(leader, {"type": "acquire"}, timeout=CALL_TIMEOUT)
        renewed = dict(reply.body) if reply is not None and reply.type == "granted" else {}
        expires = float(renewed.get("expires", 0.0))
        if expires <= float(first.get("expires", 0.0)):
            said = "nothing" if reply is None else answer_words(reply.body)
            raise CheckFailed(
                f"user-1 held the lock until t={first.get('expires'):.3f} s and asked the leader "
                f"{leader} for more time at t={asked:.3f} s; it answered {said}. The leader "
                "renews its holder's grant at once: granted, with a later expiry"
            )
        # user-1 goes quiet for good. user-2 asks until it gets the lock.
        granted = await acquire(bob, cluster, seconds=expires - cluster.now() + 1.0)
        if granted is None:
            raise CheckFailed(
                f"user-1's lease ran out at t={expires:.3f} s, but user-2, asking all along, "
                f"still did not have the lock at t={cluster.now():.3f} s: a lease that runs "
                "out frees the lock"
            )
    holds = check_one_holder_at_a_time(cluster.trace.events, ["user-1", "user-2"])
    the_lock_is_linearizable(run)
    late = [h for h in holds if h.client == "user-2" and h.start > expires + 0.2]
    if late:
        raise CheckFailed(
            f"user-1's lease ran out at t={expires:.3f} s, and user-2, asking every "
            f"{RETRY:g} s, got the lock only at t={late[0].start:.3f} s"
        )
    no_crashes(cluster.trace.events)


@graded(points=3, seeds=25, budget=120)
async def test_the_lock_is_safe_when_the_leader_crashes(run: LabRun) -> None:
    """The leader crashes just after granting the lock: the next leader grants it to nobody else
    while that grant may still run."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        users = [await run.client(cluster, "user-1"), await run.client(cluster, "user-2")]
        for turn in range(2):
            holder, other = users[turn % 2], users[(turn + 1) % 2]
            leader = await leader_within(cluster, ELECTION_BOUND, what=f"before crash {turn + 1}")
            await must_acquire(holder, cluster, seconds=2.0, why="the lock was free")
            await cluster.crash(leader)  # the holder keeps the lock until its lease runs out
            crashed = cluster.now()
            await must_acquire(
                other,
                cluster,
                seconds=3.0,
                why=f"{leader}, the leader, crashed at t={crashed:.3f} s, having granted it "
                f"to {holder.name}",
            )
            await cluster.restart(leader)
    check_one_holder_at_a_time(cluster.trace.events, ["user-1", "user-2"])
    the_lock_is_linearizable(run)
    no_crashes(cluster.trace.events)


async def keep_the_lock(user: Client, cluster: Cluster, until: float) -> None:
    """Get the lock and keep renewing it (every 0.2 s: well within its lease) until ``until``."""
    while cluster.now() < until:
        await acquire(user, cluster, seconds=until - cluster.now())
        await trio.sleep(0.2)


@graded(points=3, seeds=25, budget=120)
async def test_the_lock_is_safe_when_the_old_leader_is_cut_off(run: LabRun) -> None:
    """The leader is cut off with its lock holder: it stops granting before the new leader, on
    the other side, grants the lock to a client there."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        old = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        alice = await run.client(cluster, "user-1")
        bob = await run.client(cluster, "user-2")
        await must_acquire(alice, cluster, seconds=2.0, why="the lock was free")
        minority = [old, run.random.choice([r for r in replicas(cluster) if r != old])]
        partition(cluster, minority, clients={"user-1": "minority", "user-2": "majority"})
        cut = cluster.now()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_the_lock, alice, cluster, cut + 3.0)
            nursery.start_soon(keep_the_lock, bob, cluster, cut + 3.0)
            await trio.sleep(2.5)
            cluster.network.heal()
    holds = check_one_holder_at_a_time(cluster.trace.events, ["user-1", "user-2"])
    one_holder_at_a_time(run.history)
    the_lock_is_linearizable(run)
    no_grant_after_a_newer_leader(cluster.trace.events)
    if not any(h.client == "user-2" and h.start < cut + 2.5 for h in holds):
        raise CheckFailed(
            f"{' and '.join(minority)} were cut off (with user-1) at t={cut:.3f} s; the other "
            f"three replicas should have elected a leader and granted user-2 the lock within "
            f"2.5 s, but did not. At t={cluster.now():.3f} s: {describe(cluster)}"
        )
    no_crashes(cluster.trace.events)


@graded(points=2, seeds=20, budget=90)
async def test_a_release_by_a_client_that_does_not_hold_the_lock_frees_nothing(
    run: LabRun,
) -> None:
    """A release from a client that does not hold the lock (its lease ran out while the release
    was on its way, or it never held it) leaves the lock with its holder."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        leader = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        alice, bob, carol = [await run.client(cluster, f"user-{i}") for i in (1, 2, 3)]
        lease = cluster.config["lock_lease"]
        first = await must_acquire(alice, cluster, seconds=2.0, why="the lock was free")
        # user-1 gives the lock back, but its link to the leader is slower than its lease: the
        # release arrives after the lease ran out and user-2 was granted the lock.
        await run.schedule(cluster).fire(faults.slow_link("user-1", leader, delay=lease + 0.3))
        await alice.call(leader, {"type": "release"}, timeout=CALL_TIMEOUT)
        granted = await must_acquire(
            bob, cluster, seconds=2.0, why=f"user-1's lease ran out at t={first['expires']:.3f} s"
        )
        late = await first_event(
            cluster,
            lambda e: e.kind == "deliver" and e["src"] == "user-1" and e["type"] == "release",
            seconds=lease + 0.5,
        )
        if late is None:
            raise CheckFailed("user-1's release never reached the leader: nothing was checked")
        await expect_busy(
            carol,
            leader,
            holder="user-2",
            story=f"user-1's lease ran out at t={first['expires']:.3f} s; user-2 was granted the "
            f"lock until t={granted['expires']:.3f} s; then user-1's late release reached "
            f"{leader} at t={late.t:.3f} s",
        )
        # user-3, who never held the lock, asks to release it, then asks for it.
        await carol.call(leader, {"type": "release"}, timeout=CALL_TIMEOUT)
        await expect_busy(
            carol,
            leader,
            holder="user-2",
            story="user-2 holds the lock, and user-3, who never held it, asked to release it",
        )
    one_holder_at_a_time(run.history)
    the_lock_is_linearizable(run)
    no_crashes(cluster.trace.events)


def answer_words(body: Mapping[str, Any]) -> str:
    """A replica's answer as a student reads it: ``granted (expires=2.479, term=1)``."""
    fields = {k: v for k, v in body.items() if k not in ("type", "msg_id", "in_reply_to")}
    shown = ", ".join(
        f"{key}={round(value, 3) if isinstance(value, float) else value!r}"
        for key, value in fields.items()
    )
    return f"{body.get('type')} ({shown})" if shown else str(body.get("type"))


async def expect_busy(user: Client, leader: str, *, holder: str, story: str) -> None:
    """``user`` asks ``leader`` for the lock, which ``holder`` holds: the answer must be busy."""
    reply = await user.call(leader, {"type": "acquire"}, timeout=CALL_TIMEOUT)
    if reply is None or reply.type != "busy" or reply.body.get("holder") != holder:
        said = "nothing" if reply is None else answer_words(reply.body)
        raise CheckFailed(
            f"{story}. {user.name} then asked {leader} for the lock, which answered {said}: it "
            f"should answer busy, naming {holder}. A release from a client that does not hold "
            "the lock changes nothing"
        )


async def keep_asking(user: Client, cluster: Cluster, replica: str, until: float) -> None:
    """Ask ``replica`` for the lock every ``RETRY`` s until ``until``, whatever it answers."""
    while cluster.now() < until:
        await user.call(replica, {"type": "acquire"}, timeout=CALL_TIMEOUT)
        await trio.sleep(RETRY)


@graded(points=3, seeds=30, budget=120)
async def test_the_lock_is_safe_when_the_leader_hears_its_followers_late(run: LabRun) -> None:
    """The followers' answers reach the leader 0.15 s late; then its heartbeats stop reaching
    them. Its master lease runs from when it sent a round, not from when the answers came: it
    stops granting before the others elect a new leader, which grants to a client of its own."""
    # Quick elections (0.3 to 0.4 s) after the heartbeats stop: a lease that runs too long
    # overlaps the new leader's term.
    quick = {"election_timeout_max": 0.4}
    async with chubby_cluster(run, quick, delay=0.005, jitter=0.004) as cluster:
        old = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        followers = [r for r in replicas(cluster) if r != old]
        alice = await run.client(cluster, "user-1")
        bob = await run.client(cluster, "user-2")
        schedule = run.schedule(cluster)
        for follower in followers:
            await schedule.fire(faults.slow_link(follower, old, delay=SLOW_ANSWERS))
        await must_acquire(
            alice, cluster, seconds=2.0, why=f"{old} led, and heard its followers 0.15 s late"
        )
        await trio.sleep(run.random.uniform(0.0, cluster.config["heartbeat_interval"]))
        for follower in followers:  # one way only: late answers still come in
            cluster.network.block(old, follower)
        cut = cluster.now()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_asking, alice, cluster, old, cut + 1.5)
            granted = await acquire(bob, cluster, seconds=3.0)
    story = (
        f"{old} led, and its followers' answers took {SLOW_ANSWERS:g} s to reach it; its "
        f"heartbeats stopped reaching them at t={cut:.3f} s, while user-1 kept asking it for the "
        "lock"
    )
    with told(story):
        no_grant_after_a_newer_leader(cluster.trace.events)
        one_holder_at_a_time(run.history)
        the_lock_is_linearizable(run)
    if granted is None:
        raise CheckFailed(
            f"{story}. The other replicas should have elected a new leader and granted user-2 "
            f"the lock within 3 s, but did not. At t={cluster.now():.3f} s: {describe(cluster)}"
        )
    no_crashes(cluster.trace.events)


@contextmanager
def told(story: str) -> Iterator[None]:
    """Begin the message of a check that fails inside with the story of the test so far."""
    try:
        yield
    except CheckFailed as failed:
        raise CheckFailed(f"{story}. Then: {failed}") from None


def cut_off_from_the_replicas(cluster: Cluster, name: str) -> None:
    """Cut ``name`` off from the other replicas, both ways; clients still reach it."""
    for other in replicas(cluster):
        if other != name:
            cluster.network.block(name, other)
            cluster.network.block(other, name)


@graded(points=3, seeds=30, budget=120)
async def test_a_leader_that_wakes_up_from_a_pause_grants_nothing(run: LabRun) -> None:
    """The leader is paused (a zombie), cut off from the other replicas, with requests for the
    lock waiting for it: the others elect a new leader, which grants the lock to other clients;
    woken, the old leader grants nothing."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        old = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        users = [await run.client(cluster, f"user-{i}") for i in (1, 2, 3, 4)]
        patient, eager = users[:2], users[2:]
        await must_acquire(patient[0], cluster, seconds=2.0, why="the lock was free")
        schedule = run.schedule(cluster)
        schedule.at(cluster.now(), faults.zombie(old, seconds=ZOMBIE_PAUSE))
        async with schedule.running(), trio.open_nursery() as nursery:
            with trio.fail_after(1.0):
                await cluster.wait_until(lambda: cluster.state(old) == "paused")
            paused = cluster.now()
            # Nothing the new leader says reaches the old one: when it wakes, only its own
            # timers and the clients' requests wait for it.
            cut_off_from_the_replicas(cluster, old)
            # user-1 (the holder, renewing) and user-2 ask the old leader, patiently: their
            # requests wait at the paused leader until it wakes.
            for user in patient:
                body = {"type": "acquire"}
                nursery.start_soon(partial(user.call, old, body, timeout=ZOMBIE_PAUSE + 0.5))
            # user-3 and user-4 contend for the lock through the new leader, and keep it.
            for user in eager:
                nursery.start_soon(keep_the_lock, user, cluster, paused + ZOMBIE_PAUSE + 0.5)
    story = (
        f"{old}, the leader, was paused at t={paused:.3f} s for {ZOMBIE_PAUSE:g} s, cut off "
        "from the other replicas, with requests for the lock from user-1 (its holder) and "
        "user-2 waiting for it"
    )
    with told(story):
        no_grant_after_a_newer_leader(cluster.trace.events)
        holds = one_holder_at_a_time(run.history)
        the_lock_is_linearizable(run)
    if not any(h.client in ("user-3", "user-4") and h.start < paused + ZOMBIE_PAUSE for h in holds):
        raise CheckFailed(
            f"{story}. The other replicas should have elected a new leader and granted user-3 "
            f"or user-4 the lock before {old} woke up, but did not. At t={cluster.now():.3f} s: "
            f"{describe(cluster)}"
        )
    no_crashes(cluster.trace.events)


# -- on real sockets ------------------------------------------------------------------------------


@graded(points=1, seeds=3, budget=40, runtime="live")
async def test_on_real_sockets(run: LabRun) -> None:
    """On real sockets and real time: a leader, the lock, a crash, a new leader, the lock again."""
    async with chubby_cluster(run) as cluster:
        leader = await leader_within(cluster, 3.0, what="from the start")
        alice = await run.client(cluster, "user-1")
        bob = await run.client(cluster, "user-2")
        await must_acquire(alice, cluster, seconds=3.0, why="the lock was free")
        await cluster.crash(leader)
        await must_acquire(bob, cluster, seconds=4.0, why=f"{leader}, the leader, crashed")
    check_one_holder_at_a_time(cluster.trace.events, ["user-1", "user-2"])
    the_lock_is_linearizable(run)
    no_crashes(cluster.trace.events)


# -- efficiency (hidden) --------------------------------------------------------------------------


@graded(points=1, seeds=25, budget=90, visibility="hidden")
async def test_a_stable_leader_costs_few_messages(run: LabRun) -> None:
    """With a stable leader on a healthy network, a heartbeat round is one message each way per
    follower: at most 12 messages between replicas per heartbeat interval (8, and some slack)."""
    async with chubby_cluster(run, delay=0.005, jitter=0.004) as cluster:
        leader = await leader_within(cluster, ELECTION_BOUND, what="from the start")
        await trio.sleep(0.5)  # past the election's own messages
        began = cluster.now()
        await trio.sleep(2.0)
        ended = cluster.now()
        if agreed_leader(cluster) != leader:
            raise CheckFailed(
                f"{leader} was elected, but did not stay leader on a healthy network: at "
                f"t={ended:.3f} s {describe(cluster)}"
            )
    names = set(replicas(cluster))
    between = [
        e
        for e in cluster.trace.of_kind("send")
        if began <= e.t < ended and e["src"] in names and e["dest"] in names
    ]
    intervals = (ended - began) / cluster.config["heartbeat_interval"]
    if len(between) > 12 * intervals:
        kinds = Counter(str(e["body"].get("type")) for e in between)
        raise CheckFailed(
            f"from t={began:.3f} s to t={ended:.3f} s, with {leader} leading and nothing "
            f"failing, the replicas sent each other {len(between)} messages "
            f"({', '.join(f'{n} {kind}' for kind, n in kinds.most_common())}): more than "
            f"12 per heartbeat interval ({cluster.config['heartbeat_interval']:g} s). A round "
            "costs one heartbeat and one reply per follower: 8 for five replicas"
        )
    no_crashes(cluster.trace.events)
