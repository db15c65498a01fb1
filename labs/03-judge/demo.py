"""Lab 3's demo scenario: a contestant submits while the service's machines fail under it.

A judge's sandbox hangs while its process stays up (the demo's operator wedges it), a judge
crashes in the middle of a judging run (and comes back later), the queue crashes and restarts,
and another judge freezes for a while. The demo passes when the client has a verdict for every
submission it was given an id for, each the right one, the dashboard recorded each exactly once,
and the load balancer took the wedged judge out of the rotation.
"""

from collections import Counter

import trio

from distlab import Cluster, Node, ScenarioResult, TraceEvent

WEDGED = "judge-3"  # its sandbox hangs ...
WEDGE_AT = 0.15  # seconds into the scenario: its next run after this ...
WEDGE_FOR = 1.0  # ... hangs this long, the judge still answering messages
JUDGE_CRASH_AT = 0.35  # seconds into the scenario: a judge that is judging right then
JUDGE_RESTART_AT = 1.2
QUEUE_CRASH_AT = 0.6
QUEUE_RESTART_AT = 0.9
PAUSE_AT = 1.4  # another judge freezes (a hung process) ...
PAUSE_FOR = 0.6  # ... for this long


class Operator(Node):
    """The demo's operator: wedges a judge's sandbox, as the graded tests do.

    It uses the judge's given ``wedge`` message: the judge's next sandbox run hangs, while its
    process is up and answers every message. Only a health check that asks whether the judging
    works, not whether the process answers, takes it out of the rotation.
    """

    async def on_start(self) -> None:
        self.send(WEDGED, {"type": "wedge", "seconds": WEDGE_FOR})
        self.log.info(f"wedged {WEDGED}'s sandbox: its next run hangs {WEDGE_FOR:g} s")


def judging(cluster: Cluster) -> list[str]:
    """The judges other than the wedged one that are up and in the middle of a judging run."""
    return [
        judge
        for judge in cluster.roster.with_role("judge")
        if judge != WEDGED
        and cluster.state(judge) == "up"
        and cluster.status_of(judge).get("state") == "judging"
    ]


async def break_things(cluster: Cluster, happened: list[str], broken: set[str]) -> None:
    """Wedge a judge, crash a busy one, crash the queue, freeze another; bring each back.

    The times are counted from the start of the scenario (with one process per node, the
    cluster's clock has been running for a while already). A node that is already down (your
    code crashed it) is left alone. ``broken`` holds the nodes it has crashed or frozen and not
    yet brought back: when the client is done early, ``mend`` brings them back.
    """
    start = cluster.now()

    async def until(t: float) -> None:
        await trio.sleep(max(0.0, start + t - cluster.now()))

    def up(node: str) -> bool:
        return cluster.state(node) == "up"

    await until(WEDGE_AT)
    if up(WEDGED):
        await cluster.spawn("operator", role="operator", node_class=Operator)
    await until(JUDGE_CRASH_AT)
    with trio.move_on_after(1.0):
        await cluster.wait_until(lambda: bool(judging(cluster)))
    others = [judge for judge in cluster.roster.with_role("judge") if judge != WEDGED]
    victim = (judging(cluster) or others)[0]
    if up(victim):
        doing = cluster.status_of(victim).get("judging")
        broken.add(victim)
        await cluster.crash(victim)
        happened.append(f"{victim} crashed at t={cluster.now():.2f} s while judging {doing}")
    await until(QUEUE_CRASH_AT)
    if up("queue"):
        broken.add("queue")
        await cluster.crash("queue")
        down = cluster.now()
        await until(QUEUE_RESTART_AT)
        await cluster.restart("queue")
        broken.discard("queue")
        happened.append(f"the queue was down from t={down:.2f} s to t={cluster.now():.2f} s")
    await until(JUDGE_RESTART_AT)
    if victim in broken:
        await cluster.restart(victim)
        broken.discard(victim)
    frozen = next(judge for judge in others if judge != victim)
    await until(PAUSE_AT)
    if up(frozen):
        broken.add(frozen)
        await cluster.pause(frozen)
        paused = cluster.now()
        await until(PAUSE_AT + PAUSE_FOR)
        await cluster.resume(frozen)
        broken.discard(frozen)
        happened.append(f"{frozen} was frozen from t={paused:.2f} s to t={cluster.now():.2f} s")


async def mend(cluster: Cluster, broken: set[str]) -> None:
    """Bring back what the demo broke and had not brought back yet (the TUI keeps running)."""
    for node in sorted(broken):
        if cluster.state(node) == "paused":
            await cluster.resume(node)
        elif cluster.state(node) == "crashed":
            await cluster.restart(node)


class Tally:
    """Counts, event by event, what the summary reports (``cluster.trace.subscribe``)."""

    def __init__(self) -> None:
        self.recorded: Counter[str] = Counter()  # id -> verdicts the dashboard recorded for it
        self.sent_to_judge: Counter[str] = Counter()  # id -> judge requests the lb sent for it
        self.hung_at: float | None = None  # when the wedged judge's sandbox began to hang
        self.out_at: float | None = None  # when the lb then took it out of the rotation
        self.back_at: float | None = None  # and when it put it back

    def see(self, e: TraceEvent) -> None:
        if e.kind == "status" and e["node"] == "dashboard" and "recorded" in e["fields"]:
            self.recorded[str(e["fields"]["recorded"])] += 1
        elif e.kind == "send" and e["body"].get("type") == "judge":
            self.sent_to_judge[str(e["body"].get("id"))] += 1
        elif e.kind == "status" and e["node"] == WEDGED and e["fields"].get("sandbox") == "hung":
            self.hung_at = e.t
        elif e.kind == "status" and e["node"] == "lb" and "healthy" in e["fields"]:
            healthy = WEDGED in e["fields"]["healthy"]
            if self.hung_at is not None and self.out_at is None and not healthy:
                self.out_at = e.t
            elif self.out_at is not None and self.back_at is None and healthy:
                self.back_at = e.t

    def wedge_story(self) -> str:
        """What became of the wedged judge, in a sentence (empty if its sandbox never hung)."""
        if self.hung_at is None:
            return ""
        if self.out_at is None:
            return (
                f"{WEDGED}'s sandbox hung from t={self.hung_at:.2f} s, its process up, and the "
                "lb never took it out of the rotation"
            )
        back = f", back at t={self.back_at:.2f} s" if self.back_at is not None else ""
        return (
            f"{WEDGED}'s sandbox hung from t={self.hung_at:.2f} s, its process up: out of the "
            f"rotation at t={self.out_at:.2f} s{back}"
        )

    def judged_again(self) -> int:
        """How many judge requests went to a submission that had been sent to a judge before."""
        return sum(self.sent_to_judge.values()) - len(self.sent_to_judge)


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    happened: list[str] = []
    broken: set[str] = set()
    tally = Tally()
    cluster.trace.subscribe(tally.see)
    with trio.move_on_after(duration):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(break_things, cluster, happened, broken)
            await cluster.wait_for_status("client", lambda status: status.get("done") is True)
            nursery.cancel_scope.cancel()
    await mend(cluster, broken)
    status = cluster.status_of("client")
    accepted, right, wrong = (status.get(k, 0) for k in ("accepted", "right", "wrong"))
    if wrong:
        return ScenarioResult.failed(
            f"{wrong} of {right + wrong} verdicts were wrong (see the client's warnings)"
        )
    if not status.get("done"):
        pending = status.get("pending", [])
        return ScenarioResult.failed(
            f"after {duration:g} s the client had {right} verdicts; still without one: "
            f"{', '.join(pending) or 'none'} (of {accepted} accepted submissions)"
        )
    # With one process per node, the dashboard's status events reach the trace through its own
    # pipe: the client's "done" can come first.
    await cluster.settle()
    twice = sorted(i for i, n in tally.recorded.items() if n > 1)
    if twice:
        return ScenarioResult.failed(f"the dashboard recorded a verdict twice for {twice}")
    if tally.hung_at is not None and tally.out_at is None:
        return ScenarioResult.failed(
            f"{tally.wedge_story()}: a health check must ask whether judging works, not "
            "whether the process answers"
        )
    return ScenarioResult.ok(
        f"all {accepted} accepted submissions judged right, each recorded once, by "
        f"t={cluster.now():.2f} s ({tally.judged_again()} judged again after a failure). "
        + "; ".join([tally.wedge_story(), *happened] if tally.hung_at is not None else happened)
    )
