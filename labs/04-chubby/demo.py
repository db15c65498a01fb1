"""Lab 4's demo scenario: the lock keeps working, with never two holders, while the leadership
changes hands twice: once by a crash, once by a partition.

1. A leader is elected and the clients take turns with the lock.
2. The leader crashes; every follower is set to crash right after its next vote (a crash point).
   The others elect a new leader, and its voters restart. The old leader restarts too, crashes
   right after it acknowledges the new leader's first heartbeat, and restarts again: every
   restart must come back with the term and vote the replica had made known.
3. The new leader is cut off with one follower and client-1: the other three elect a third
   leader, which serves client-2. The network heals once the two cut off stand in a newer term
   than the third leader's, and all five agree on one leader again.
4. The clients take all their turns.

It passes when all of that happened and the trace shows the rules kept: every leader had the
votes of a majority in its own term; every restarted replica remembered its term and vote; a
follower that knows the leader names it; every grant expires `lock_lease` after it was made, and
a new leader grants nothing during its grace period, nor an old one once a newer leader exists;
and no two clients ever held the lock at once (a grant holds from its delivery until its expiry,
or until the client gives the lock back, whichever comes first).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from distlab import Cluster, ScenarioResult, TraceEvent

#: How many turns the clients take, together, before the demo crashes the leader.
TURNS_BEFORE_CRASH = 3
#: ... and before it cuts the second leader off.
TURNS_BEFORE_PARTITION = 6
#: Seconds within which all five replicas must agree on one leader after the network heals.
AGREE_AFTER_HEAL = 3.0
#: Seconds of slack on timing checks: nodes and trace share one clock, but a busy machine may
#: take a moment between a node reading it and the trace recording what it did.
SLACK = 0.01


class DemoFailed(Exception):
    """The story went wrong: the message says how, in words."""


@dataclass
class Hold:
    client: str
    start: float
    end: float


# -- who leads ------------------------------------------------------------------------------------


def replicas(cluster: Cluster) -> list[str]:
    return cluster.roster.with_role("replica")


def leader_now(cluster: Cluster) -> str | None:
    """The replica that says it leads (the one with the highest term, should two say so)."""
    leaders = [
        (cluster.status_of(r).get("term", 0), r)
        for r in replicas(cluster)
        if cluster.state(r) == "up" and cluster.status_of(r).get("role") == "leader"
    ]
    return max(leaders)[1] if leaders else None


def crashed(cluster: Cluster, *, other_than: str | None = None) -> str | None:
    """A replica (other than ``other_than``) that is down, if there is one."""
    down = [r for r in replicas(cluster) if r != other_than and cluster.state(r) == "crashed"]
    return down[0] if down else None


def agreed_leader(cluster: Cluster) -> str | None:
    """The leader all five replicas agree on (one leads, four follow it, in its term), or None."""
    statuses = {r: cluster.status_of(r) for r in replicas(cluster) if cluster.state(r) == "up"}
    leading = [r for r, s in statuses.items() if s.get("role") == "leader"]
    if len(statuses) != len(replicas(cluster)) or len(leading) != 1:
        return None
    term = statuses[leading[0]].get("term")
    agree = all(
        s.get("leader") == leading[0] and s.get("term") == term
        for r, s in statuses.items()
        if r != leading[0]
    )
    return leading[0] if agree else None


async def wait_for_leader(cluster: Cluster, *, other_than: str | None = None) -> str:
    """Wait until a replica (other than ``other_than``) leads; return its name."""
    await cluster.wait_until(lambda: leader_now(cluster) not in (None, other_than))
    leader = leader_now(cluster)
    assert leader is not None
    return leader


def term_of(cluster: Cluster, replica: str) -> int:
    term: int = cluster.status_of(replica).get("term", 0)
    return term


def newest_term(cluster: Cluster, names: list[str]) -> int:
    return max(term_of(cluster, r) for r in names if r in replicas(cluster))


def turns_taken(cluster: Cluster, *, by: str | None = None) -> int:
    clients = [by] if by else cluster.roster.with_role("client")
    return sum(cluster.status_of(c).get("holds", 0) for c in clients)


def describe(cluster: Cluster) -> str:
    said = []
    for r in replicas(cluster):
        s = cluster.status_of(r)
        if cluster.state(r) != "up":
            said.append(f"{r} is {cluster.state(r)}")
        else:
            said.append(f"{r} is {s.get('role')} in term {s.get('term')}")
    return "; ".join(said)


# -- the rules, read from the trace --------------------------------------------------------------


class Statuses:
    """Each node's published fields as the trace goes (a restart starts them afresh)."""

    def __init__(self) -> None:
        self.of: dict[str, dict[str, Any]] = {}

    def apply(self, e: TraceEvent) -> None:
        if e.kind in ("start", "restart"):
            self.of[str(e["node"])] = {}
        elif e.kind == "status":
            self.of.setdefault(str(e["node"]), {}).update(e["fields"])


def check_elections(events: list[TraceEvent], names: list[str]) -> None:
    """Every leader had been sent the votes of a majority in its own term when it said it led.

    Judged by the clock, not the trace's order: with one process per node, each node's events
    reach the trace through a pipe of its own.
    """
    majority = len(names) // 2 + 1
    votes = [
        (e.t, str(e["src"]), str(e["dest"]), e["body"].get("term"))
        for e in events
        if e.kind == "send" and e["body"].get("type") == "vote" and e["body"].get("granted")
    ]
    statuses = Statuses()
    for e in events:
        statuses.apply(e)
        if e.kind == "status" and e["fields"].get("role") == "leader":
            node = str(e["node"])
            term = statuses.of[node].get("term")
            backers = {node} | {
                voter for t, voter, to, of in votes if to == node and of == term and t <= e.t
            }
            if len(backers) < majority:
                raise DemoFailed(
                    f"{node} said it led term {term} at t={e.t:.3f} s with the votes of "
                    f"{', '.join(sorted(backers))} only, in that term: a leader needs a majority "
                    f"({majority} of {len(names)})"
                )


def check_restarts(events: list[TraceEvent], names: list[str]) -> int:
    """A restarted replica comes back with the newest term, and the vote, it had made known:
    published, or sent (a vote it granted; a request for votes, which is a vote for itself)."""
    known: dict[str, tuple[int, Any]] = {}  # replica -> (term, vote) it last made known
    waiting: dict[str, tuple[float, int, Any]] = {}  # restarted, first status awaited
    statuses = Statuses()
    checked = 0
    for e in events:
        statuses.apply(e)
        if e.kind == "send" and e["src"] in names:
            body, sender = e["body"], str(e["src"])
            if body.get("type") == "vote" and body.get("granted"):
                known[sender] = (body.get("term", 0), str(e["dest"]))
            elif body.get("type") == "request_vote":
                known[sender] = (body.get("term", 0), sender)
            continue
        node = str(e.get("node"))
        if node not in names:
            continue
        if e.kind == "restart" and node in known:
            waiting[node] = (e.t, *known[node])
        elif e.kind == "status" and "term" in e["fields"]:
            fields = statuses.of[node]
            term, vote = fields.get("term", 0), fields.get("voted_for")
            if node in waiting:
                at, term_before, vote_before = waiting.pop(node)
                if term < term_before or (term == term_before and vote_before not in (None, vote)):
                    raise DemoFailed(
                        f"{node} restarted at t={at:.3f} s and came back in term {term}, "
                        f"voted for {vote}; before it crashed it had made known term "
                        f"{term_before}, voted for {vote_before}. Term and vote belong in "
                        "storage, written before anyone can learn of them"
                    )
                checked += 1
            known[node] = (term, vote)
    return checked


def check_redirects(events: list[TraceEvent]) -> None:
    """A follower that follows a leader names it in ``not_leader``."""
    statuses = Statuses()
    for e in events:
        statuses.apply(e)
        if e.kind == "send" and e["body"].get("type") == "not_leader":
            follows = statuses.of.get(str(e["src"]), {}).get("leader")
            if follows is not None and e["body"].get("leader") != follows:
                raise DemoFailed(
                    f"{e['src']} followed {follows}, but at t={e.t:.3f} s told {e['dest']} "
                    f"not_leader with leader={e['body'].get('leader')!r}: name the leader, so "
                    "that the client asks it next"
                )


def check_grants(events: list[TraceEvent], lease: float) -> None:
    """Each grant expires ``lease`` after it is made; a new leader grants nothing for ``lease``
    after its election, and an old one nothing once a newer leader was elected."""
    statuses = Statuses()
    elected: list[tuple[float, Any, str]] = []  # (when, term, who)
    for e in events:
        statuses.apply(e)
        if e.kind == "status" and e["fields"].get("role") == "leader":
            node = str(e["node"])
            elected.append((e.t, statuses.of[node].get("term"), node))
        if e.kind != "send" or e["body"].get("type") != "granted":
            continue
        leader, term = str(e["src"]), e["body"].get("term")
        expires = float(e["body"].get("expires", 0.0))
        if abs(expires - (e.t + lease)) > lease / 2:
            raise DemoFailed(
                f"{leader} granted {e['dest']} the lock at t={e.t:.3f} s, expiring at "
                f"{expires:g}: expires is a time on the cluster's clock, lock_lease "
                f"({lease:g} s) after the grant"
            )
        own = [at for at, t, who in elected if who == leader and t == term]
        if own and e.t < own[-1] + lease - SLACK:
            raise DemoFailed(
                f"{leader} was elected leader of term {term} at t={own[-1]:.3f} s and granted "
                f"{e['dest']} the lock at t={e.t:.3f} s, within its grace period ({lease:g} s): "
                "a grant of the leader before it may still run"
            )
        newer = [
            (at, t, who)
            for at, t, who in elected
            if isinstance(t, int) and isinstance(term, int) and t > term and at < e.t - SLACK
        ]
        if newer:
            at, t, who = newer[0]
            raise DemoFailed(
                f"{leader} granted {e['dest']} the lock at t={e.t:.3f} s as leader of term "
                f"{term}, but {who} had been elected leader of term {t} at t={at:.3f} s: an old "
                "leader's master lease must run out before a new leader can be elected"
            )


def lock_holds(events: list[TraceEvent], clients: list[str]) -> list[Hold]:
    """Every time a client held the lock: from a grant's delivery to its expiry or release."""
    sent = {e["mid"]: e for e in events if e.kind == "send"}
    releases = [e for e in sent.values() if e["body"].get("type") == "release"]
    holds = []
    for e in events:
        if e.kind != "deliver" or e["dest"] not in clients or e["mid"] not in sent:
            continue
        body = sent[e["mid"]]["body"]
        if body.get("type") == "granted":
            gave_back = [r.t for r in releases if r["src"] == e["dest"] and r.t >= e.t]
            holds.append(Hold(e["dest"], e.t, min([body["expires"], *gave_back])))
    return holds


def check_one_holder(holds: list[Hold]) -> None:
    for a in holds:
        for b in holds:
            if a.client < b.client and a.start < b.end and b.start < a.end:
                raise DemoFailed(
                    f"two clients held the lock at once: {a.client} from t={a.start:.3f} s to "
                    f"t={a.end:.3f} s, {b.client} from t={b.start:.3f} s to t={b.end:.3f} s"
                )


# -- the story ------------------------------------------------------------------------------------


class Supervisor:
    """Restarts, at once, every replica that crashes at a crash point the demo armed (as a
    process supervisor would): what it kept in storage is all it comes back with."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        #: the replicas that crashed at a crash point, in order (one entry per crash)
        self.crashed: list[str] = []
        self._to_restart: list[str] = []
        self._wakeup = trio.Event()

    def watch(self, e: TraceEvent) -> None:
        if e.kind == "crash" and "a crash point" in str(e.get("reason", "")):
            self.crashed.append(str(e["node"]))
            self._to_restart.append(str(e["node"]))
            self._wakeup.set()

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            while self._to_restart:
                name = self._to_restart.pop(0)
                if self.cluster.state(name) == "crashed":
                    await self.cluster.restart(name)


async def play_the_story(cluster: Cluster, supervisor: Supervisor, story: list[str]) -> None:
    clients = cluster.roster.with_role("client")
    wanted = cluster.config["client_turns"] * len(clients)
    first = await wait_for_leader(cluster)
    await cluster.wait_until(lambda: turns_taken(cluster) >= TURNS_BEFORE_CRASH)
    # The leader crashes. Every follower is set to crash right after its next vote (a crash
    # point): those that vote for the next leader crash, and restart at once.
    for follower in replicas(cluster):
        if follower != first:
            await cluster.crash_after_send(follower, "vote")
    term = cluster.status_of(first).get("term")
    crashes_before = len(supervisor.crashed)
    await cluster.crash(first)
    story.append(f"{first} led term {term} until it was crashed at t={cluster.now():.2f} s")
    second = await wait_for_leader(cluster, other_than=first)
    voters = ", ".join(supervisor.crashed[crashes_before:]) or "none"
    story.append(
        f"{second} was elected in term {cluster.status_of(second).get('term')} (its voters "
        f"crashed right after their votes, and restarted: {voters})"
    )
    # The old leader restarts; it crashes right after it acknowledges the new leader's first
    # heartbeat, and restarts again.
    crashes_before = len(supervisor.crashed)
    await cluster.restart(first)
    await cluster.crash_after_send(first, "heartbeat_reply")
    await cluster.wait_until(
        lambda: first in supervisor.crashed[crashes_before:] and cluster.state(first) == "up"
    )
    await cluster.wait_until(lambda: turns_taken(cluster) >= TURNS_BEFORE_PARTITION)
    # The leader (the new one, unless yet another took over) is cut off with one follower and
    # client-1.
    second = await wait_for_leader(cluster)
    follower = next(r for r in replicas(cluster) if r != second)
    minority = [second, follower, clients[0]]
    majority = [n for n in cluster.names if n not in minority]
    cluster.network.partition({"minority": minority, "majority": majority})
    cut = cluster.now()
    third = await wait_for_leader(cluster, other_than=second)
    served = turns_taken(cluster, by=clients[1])
    await cluster.wait_until(lambda: turns_taken(cluster, by=clients[1]) > served)
    # The two cut off stand for election in term after term: heal once one of them is in a
    # newer term than the new leader's, which must then step down when it hears of it.
    await cluster.wait_until(lambda: newest_term(cluster, minority) > term_of(cluster, third))
    cluster.network.heal()
    healed = cluster.now()
    story.append(
        f"{second} and {follower} were cut off from t={cut:.2f} s to t={healed:.2f} s, and "
        f"{third} was elected in term {cluster.status_of(third).get('term')}"
    )
    with trio.move_on_after(AGREE_AFTER_HEAL):
        await cluster.wait_until(lambda: agreed_leader(cluster) is not None)
    if agreed_leader(cluster) is None:
        raise DemoFailed(
            f"the network healed at t={healed:.2f} s, but the five replicas did not agree on "
            f"one leader within {AGREE_AFTER_HEAL:g} s: {describe(cluster)}. A leader that "
            "hears of a newer term steps down"
        )
    await cluster.wait_until(lambda: turns_taken(cluster) >= wanted)


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    wanted = cluster.config["client_turns"] * len(cluster.roster.with_role("client"))
    story: list[str] = []
    failure: str | None = None
    supervisor = Supervisor(cluster)
    unsubscribe = cluster.trace.subscribe(supervisor.watch)
    with trio.move_on_after(duration):
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(supervisor.run)
                await play_the_story(cluster, supervisor, story)
                nursery.cancel_scope.cancel()
        except* DemoFailed as failed:
            failure = str(failed.exceptions[0])
    unsubscribe()
    await cluster.settle()  # with --processes, each node's events come through its own pipe
    so_far = "; ".join(story) if story else "no replica was ever elected leader"
    if failure is not None:
        return ScenarioResult.failed(f"{so_far}. Then {failure}")
    events = list(cluster.trace.events)
    names = replicas(cluster)
    clients = cluster.roster.with_role("client")
    checks: list[Callable[[], object]] = [
        lambda: check_elections(events, names),
        lambda: check_restarts(events, names),
        lambda: check_redirects(events),
        lambda: check_grants(events, cluster.config["lock_lease"]),
        lambda: check_one_holder(lock_holds(events, clients)),
    ]
    for check in checks:
        try:
            check()
        except DemoFailed as failed:
            return ScenarioResult.failed(f"{so_far}. But {failed}")
    if turns_taken(cluster) < wanted:
        return ScenarioResult.failed(
            f"{so_far}; the clients took the lock {turns_taken(cluster)} of {wanted} times in "
            f"{duration:g} s. At t={cluster.now():.2f} s: {describe(cluster)}"
        )
    per_client = ", ".join(f"{c} {turns_taken(cluster, by=c)}" for c in clients)
    return ScenarioResult.ok(
        f"{so_far}. The lock was taken {wanted} times ({per_client}), never by two clients at "
        "once; every restarted replica kept its term and vote"
    )
