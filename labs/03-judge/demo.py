"""Lab 3's demo scenario: a contestant submits while the service's machines fail under it.

A judge's sandbox hangs while its process stays up (the demo's operator wedges it), a judge
crashes in the middle of a judging run (and comes back later), the dashboard crashes and
restarts, the queue crashes right after it confirmed a submission and stays down longer than
anyone retries, the front end restarts, and another judge freezes for a while. The demo passes
when the client was given a new id for every submission and has a verdict for each, the right
one, the dashboard recorded each exactly once, and the load balancer took the wedged judge out
of the rotation, which the dashboard showed, and sent it no other submission while it still
judged the one that hung (one submission at a time).
"""

from collections import Counter

import trio

from distlab import Cluster, Node, ScenarioResult, TraceEvent

WEDGED = "judge-3"  # its sandbox hangs ...
WEDGE_AT = 0.15  # seconds into the scenario: its next run after this ...
WEDGE_FOR = 1.0  # ... hangs this long, the judge still answering messages
JUDGE_CRASH_AT = 0.35  # seconds into the scenario: a judge that is judging right then
DASHBOARD_CRASH_AT = 0.45  # the dashboard crashes, holding the first verdicts ...
DASHBOARD_RESTART_AT = 0.7  # ... and comes back
QUEUE_CRASH_AT = 0.6  # the queue crashes right after the next enqueue_ok it sends ...
QUEUE_DOWN_FOR = 1.3  # ... and stays down longer than the front end and the judges retry (1 s)
FRONTEND_CRASH_AT = 1.0  # the front end crashes while it waits for the queue ...
FRONTEND_RESTART_AT = 1.1
JUDGE_RESTART_AT = 1.2
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
    """Wedge a judge, crash a busy one, the dashboard, the queue and the front end, freeze
    another judge; bring each back. Each part of the service breaks on its own clock.

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

    async def crash(node: str) -> float:
        broken.add(node)
        await cluster.crash(node)
        return cluster.now()

    async def restart(node: str) -> float:
        await cluster.restart(node)
        broken.discard(node)
        return cluster.now()

    async def break_judges() -> None:
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
            crashed = await crash(victim)
            happened.append(f"{victim} crashed at t={crashed:.2f} s while judging {doing}")
        await until(JUDGE_RESTART_AT)
        if victim in broken:
            await restart(victim)
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

    async def break_the_dashboard() -> None:
        await until(DASHBOARD_CRASH_AT)
        if up("dashboard"):
            down = await crash("dashboard")
            await until(DASHBOARD_RESTART_AT)
            back = await restart("dashboard")
            happened.append(f"the dashboard was down from t={down:.2f} s to t={back:.2f} s")

    async def break_the_queue() -> None:
        await until(QUEUE_CRASH_AT)
        if not up("queue"):
            return
        # A crash point: right after the queue confirms a submission, before anything else.
        broken.add("queue")
        await cluster.crash_after_send("queue", "enqueue_ok")
        with trio.move_on_after(1.0):
            await cluster.wait_until(lambda: not up("queue"))
        if up("queue"):  # no submission came: crash it all the same
            await cluster.crash("queue")
        down = cluster.now()
        await trio.sleep(QUEUE_DOWN_FOR)
        back = await restart("queue")
        happened.append(
            f"the queue crashed at t={down:.2f} s right after it confirmed a submission, and "
            f"was down until t={back:.2f} s"
        )

    async def break_the_front_end() -> None:
        await until(FRONTEND_CRASH_AT)
        if up("frontend"):
            down = await crash("frontend")
            await until(FRONTEND_RESTART_AT)
            back = await restart("frontend")
            happened.append(f"the front end was down from t={down:.2f} s to t={back:.2f} s")

    async with trio.open_nursery() as nursery:
        for part in (break_judges, break_the_dashboard, break_the_queue, break_the_front_end):
            nursery.start_soon(part)


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
        self.shown_at: float | None = None  # when the dashboard first showed it out
        self.ok_at: float | None = None  # when its sandbox stopped hanging
        self.sent_to_wedged: list[tuple[float, str]] = []  # (when, id): the lb's judge requests

    def see(self, e: TraceEvent) -> None:
        if e.kind == "status" and e["node"] == "dashboard" and "recorded" in e["fields"]:
            self.recorded[str(e["fields"]["recorded"])] += 1
        elif e.kind == "send" and e["body"].get("type") == "judge":
            self.sent_to_judge[str(e["body"].get("id"))] += 1
            if e["dest"] == WEDGED:
                self.sent_to_wedged.append((e.t, str(e["body"].get("id"))))
        elif e.kind == "status" and e["node"] == WEDGED and e["fields"].get("sandbox") == "hung":
            self.hung_at = e.t
        elif e.kind == "status" and e["node"] == WEDGED and e["fields"].get("sandbox") == "ok":
            self.ok_at = e.t
        elif e.kind == "status" and e["node"] == "lb" and "healthy" in e["fields"]:
            healthy = WEDGED in e["fields"]["healthy"]
            if self.hung_at is not None and self.out_at is None and not healthy:
                self.out_at = e.t
            elif self.out_at is not None and self.back_at is None and healthy:
                self.back_at = e.t
        elif e.kind == "status" and e["node"] == "dashboard" and "unhealthy" in e["fields"]:
            shown = WEDGED in e["fields"]["unhealthy"]
            if shown and self.out_at is not None and self.shown_at is None:
                self.shown_at = e.t

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

    def sent_while_hung(self, visibility_timeout: float) -> str:
        """The judge requests the wedged judge got while it still judged the one that hung, in
        words (empty if none). Compared by time, not by trace order: with one process per node,
        two nodes' events may reach the trace in another order than they happened."""
        if self.hung_at is None:
            return ""
        hung_at = self.hung_at
        ok_at = self.ok_at if self.ok_at is not None else float("inf")
        earlier = [(t, i) for t, i in self.sent_to_wedged if t <= hung_at]
        if not earlier:
            return ""
        sent_at, hung_id = max(earlier)
        # Free again for the lb once the visibility timeout has passed without an answer.
        until = min(ok_at, sent_at + visibility_timeout)
        more = [
            f"{i} at t={t:.2f} s" for t, i in sorted(self.sent_to_wedged) if hung_at < t < until
        ]
        if not more:
            return ""
        return (
            f"the lb sent {WEDGED} {hung_id} at t={sent_at:.2f} s, and its sandbox hung on it from "
            f"t={hung_at:.2f} s; while it still judged it, the lb sent it {', '.join(more)} too"
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
    wanted: int = cluster.config["client_submissions"]
    if status.get("done") and accepted < wanted:
        return ScenarioResult.failed(
            f"the client made {wanted} submissions, and was given only {accepted} different "
            f"ids for them: the front end gave an id twice (ids must never be reused, not even "
            f"after the front end restarts). " + "; ".join(happened)
        )
    if wrong:
        return ScenarioResult.failed(
            f"{wrong} of {right + wrong} verdicts were wrong (see the client's warnings)"
        )
    if not status.get("done"):
        pending = status.get("pending", [])
        queue, lb = cluster.status_of("queue"), cluster.status_of("lb")
        return ScenarioResult.failed(
            f"after {duration:g} s the client had {right} verdicts; still without one: "
            f"{', '.join(pending) or 'none'} (of {accepted} accepted submissions). At the end "
            f"the queue held {queue.get('depth')} submissions waiting and "
            f"{queue.get('in_flight')} hidden; the lb had {lb.get('healthy')} in its rotation, "
            f"and counted {lb.get('busy')} busy. " + "; ".join(happened)
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
    overloaded = tally.sent_while_hung(cluster.config["visibility_timeout"])
    if overloaded:
        return ScenarioResult.failed(
            f"{overloaded}: a judge gets one submission at a time. The lb counts a judge busy "
            "from the moment it sends it a submission until it answers (or the visibility "
            "timeout passes), and hands submissions only to free judges"
        )
    if tally.out_at is not None and tally.shown_at is None:
        return ScenarioResult.failed(
            f"{tally.wedge_story()}, but the dashboard never showed it out (its status "
            "unhealthy): the lb reports the judges' health to the dashboard when it changes"
        )
    return ScenarioResult.ok(
        f"all {accepted} accepted submissions judged right, each recorded once, by "
        f"t={cluster.now():.2f} s ({tally.judged_again()} judged again after a failure). "
        + "; ".join([tally.wedge_story(), *happened] if tally.hung_at is not None else happened)
    )
