"""Lab 4's demo scenario: a leader is elected, the clients take turns with the lock, the leader
is crashed, a new leader is elected, and the lock keeps working.

It passes when both clients have taken all their turns, a new leader took over after the crash,
and no two clients ever held the lock at once (read from the trace: a grant holds from its
delivery until its expiry, or until the client gives the lock back, whichever comes first).
"""

from dataclasses import dataclass

import trio

from distlab import Cluster, ScenarioResult

#: How many turns the clients take, together, before the demo crashes the leader.
TURNS_BEFORE_CRASH = 4


@dataclass
class Hold:
    client: str
    start: float
    end: float


def leader_now(cluster: Cluster) -> str | None:
    """The replica that says it leads (the one with the highest term, should two say so)."""
    leaders = [
        (cluster.status_of(r).get("term", 0), r)
        for r in cluster.roster.with_role("replica")
        if cluster.state(r) == "up" and cluster.status_of(r).get("role") == "leader"
    ]
    return max(leaders)[1] if leaders else None


async def wait_for_leader(cluster: Cluster, *, other_than: str | None = None) -> str:
    """Wait until a replica (other than ``other_than``) leads; return its name."""
    await cluster.wait_until(lambda: leader_now(cluster) not in (None, other_than))
    leader = leader_now(cluster)
    assert leader is not None
    return leader


def turns_taken(cluster: Cluster) -> int:
    return sum(cluster.status_of(c).get("holds", 0) for c in cluster.roster.with_role("client"))


def lock_holds(cluster: Cluster) -> list[Hold]:
    """Every time a client held the lock: from a grant's delivery to its expiry or release."""
    clients = set(cluster.roster.with_role("client"))
    sent = {e["mid"]: e for e in cluster.trace.of_kind("send")}
    releases = [e for e in sent.values() if e["body"].get("type") == "release"]
    holds = []
    for e in cluster.trace.of_kind("deliver"):
        body = sent[e["mid"]]["body"] if e["mid"] in sent else {}
        if e["dest"] in clients and body.get("type") == "granted":
            gave_back = [r.t for r in releases if r["src"] == e["dest"] and r.t >= e.t]
            holds.append(Hold(e["dest"], e.t, min([body["expires"], *gave_back])))
    return holds


def overlap(holds: list[Hold]) -> tuple[Hold, Hold] | None:
    """Two holds by different clients at the same moment, if there are any."""
    for a in holds:
        for b in holds:
            if a.client < b.client and a.start < b.end and b.start < a.end:
                return a, b
    return None


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    wanted = cluster.config["client_turns"] * len(cluster.roster.with_role("client"))
    first = second = None
    crashed_at, first_term, second_term = 0.0, None, None
    with trio.move_on_after(duration):
        first = await wait_for_leader(cluster)
        await cluster.wait_until(lambda: turns_taken(cluster) >= TURNS_BEFORE_CRASH)
        first_term = cluster.status_of(first).get("term")
        await cluster.crash(first)
        crashed_at = cluster.now()
        second = await wait_for_leader(cluster, other_than=first)
        second_term = cluster.status_of(second).get("term")
        await cluster.restart(first)  # it comes back a follower, with its term and vote
        await cluster.wait_until(lambda: turns_taken(cluster) >= wanted)
    await cluster.settle()  # with --processes, each node's events come through its own pipe
    if first is None:
        return ScenarioResult.failed(f"no replica was elected leader in {duration:g} s")
    if second is None:
        return ScenarioResult.failed(
            f"{first} led, and was crashed at t={crashed_at:.2f} s; no other replica was "
            f"elected leader by t={cluster.now():.2f} s"
        )
    holds = lock_holds(cluster)
    both = overlap(holds)
    if both is not None:
        a, b = both
        return ScenarioResult.failed(
            f"two clients held the lock at once: {a.client} from t={a.start:.3f} s to "
            f"t={a.end:.3f} s, {b.client} from t={b.start:.3f} s to t={b.end:.3f} s"
        )
    if turns_taken(cluster) < wanted:
        return ScenarioResult.failed(
            f"the clients took the lock {turns_taken(cluster)} of {wanted} times in {duration:g} s"
        )
    per_client = ", ".join(
        f"{c} {cluster.status_of(c).get('holds', 0)}" for c in cluster.roster.with_role("client")
    )
    return ScenarioResult.ok(
        f"{first} led term {first_term} until it was crashed at t={crashed_at:.2f} s; "
        f"{second} was elected in term {second_term}. "
        f"The lock was taken {len(holds)} times ({per_client}), never by two clients at once"
    )
