"""Lab 5's demo scenario: the users' load rises and falls, and the fleet follows it.

The lab's client sends requests at the rate ``config["client_load"]`` sets: 2 requests/s, a ramp
to 16 (two instances serve 8), 16 for a while, and a fall back to 2. Meanwhile the demo's
operator wedges one instance (its process up), another instance crashes, the metrics service
gets no reports for 6 s and then restarts (its samples lost), and the autoscaler restarts.

The demo passes when the fleet scaled out and the latency clients saw came back under the
target while the load was high; no instance was terminated while the load was high except the
two that failed, each replaced; the fleet scaled in once the load fell, without losing a
request; and it stayed within its bounds throughout.
"""

from __future__ import annotations

import math
from typing import Any

import trio

from distlab import Cluster, Node, ScenarioResult, TraceEvent

TARGET_P95 = 1.0  # seconds: the latency the clients' 95th percentile must be back under
WEDGE_AT = 7.0  # seconds into the scenario: an instance in service wedges (its process up)
CRASH_AT = 9.0  # another one crashes
NOTICED = 2.5  # seconds after each: out of service, so requests sent later must be served
BLIND = (10.5, 16.5)  # the instances' reports to the metrics service are lost ...
METRICS_RESTART_AT = 15.0  # ... and then it restarts: its samples are lost
AUTOSCALER_RESTART_AT = 13.0  # and so does the autoscaler
RECOVERED = (15.0, 18.0)  # the p95 is measured over the requests sent in this span
HIGH = (5.0, 18.0)  # the load is high: no instance may be scaled in
FALL_AT = 18.0  # the load falls from here (config["client_load"])


class Operator(Node):
    """The demo's operator: wedges an instance in service, as the graded tests do (with the
    instance's given ``wedge``). It asks the lb which instances are in service."""

    async def on_start(self) -> None:
        reply = await self.rpc("lb", {"type": "targets"}, timeout=1.0)
        healthy = sorted(n for n, t in reply.body["targets"].items() if t["healthy"])
        if healthy:
            victim = healthy[-1]
            self.send(victim, {"type": "wedge", "seconds": 60.0})
            self.log.info(f"wedged {victim}: its next request hangs, its process up")
            self.status(wedged=victim)


def requests_of(events: list[TraceEvent], began: float) -> list[tuple[float, float | None]]:
    """The client's requests, from the trace: (sent at, latency; None if lost), in scenario
    time (seconds since ``began``). A request is lost when its answer is an ``error``."""
    sent: dict[Any, float] = {}
    bodies: dict[str, dict[str, Any]] = {}
    done: dict[Any, float | None] = {}
    for event in events:
        if event.kind == "send":
            bodies[str(event["mid"])] = dict(event["body"])
            if event["src"] == "client" and event["body"].get("type") == "request":
                sent[event["body"]["msg_id"]] = event.t
        elif event.kind == "deliver" and event["dest"] == "client":
            body = bodies.get(str(event["mid"]), {})
            asked = body.get("in_reply_to")
            if asked in sent and asked not in done:
                done[asked] = None if body.get("type") == "error" else event.t - sent[asked]
    return [(t - began, done.get(msg_id)) for msg_id, t in sent.items()]


def p95(latencies: list[float]) -> float:
    if not latencies:
        return math.inf
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def fleet_story(events: list[TraceEvent], began: float) -> list[tuple[float, str, str, int]]:
    """(t, "launch" | "terminate", instance, the fleet's size after it), in scenario time."""
    size = sum(1 for name in events[0]["nodes"] if name.startswith("instance-"))
    story = []
    for event in events:
        if event.kind in ("spawn", "terminate") and str(event["node"]).startswith("instance-"):
            size += 1 if event.kind == "spawn" else -1
            what = "launch" if event.kind == "spawn" else "terminate"
            story.append((event.t - began, what, str(event["node"]), size))
    return story


def in_service(cluster: Cluster) -> list[str]:
    return list(cluster.status_of("lb").get("in_service") or [])


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    began = cluster.now()
    low, high = cluster.config["min_instances"], cluster.config["max_instances"]
    broken: dict[str, float] = {}  # instance -> when it was wedged or crashed (scenario time)
    crashed = ""

    async def until(t: float) -> None:
        await trio.sleep(max(0.0, began + t - cluster.now()))

    async def break_things() -> None:
        await until(WEDGE_AT)
        await cluster.spawn("operator", role="operator", node_class=Operator)
        with trio.move_on_after(2.0):
            await cluster.wait_for_status("operator", lambda s: s.get("wedged") is not None)
            broken[cluster.status_of("operator")["wedged"]] = cluster.now() - began
        await until(CRASH_AT)
        nonlocal crashed
        up = [n for n in in_service(cluster) if n not in broken]
        if up and cluster.state(up[0]) == "up":
            crashed = up[0]
            await cluster.crash(crashed)
            broken[crashed] = cluster.now() - began
        await until(BLIND[0])
        async with trio.open_nursery() as blinding:
            blinding.start_soon(cut_off_metrics)
            await until(AUTOSCALER_RESTART_AT)
            await cluster.restart("autoscaler")
            await until(BLIND[1])
            blinding.cancel_scope.cancel()
        cluster.network.heal()
        await cluster.restart("metrics")

    async def cut_off_metrics() -> None:
        """Cut every instance's link to metrics, the new ones' too, as they are launched."""
        cut: set[str] = set()
        while True:
            for name in cluster.roster.with_role("instance"):
                if name not in cut:
                    cluster.network.block(name, "metrics")
                    cut.add(name)
            await trio.sleep(0.05)

    with trio.move_on_after(duration) as out_of_time:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(break_things)
            await cluster.wait_for_status("client", lambda s: s.get("done") is True)
    await cluster.settle()
    if out_of_time.cancelled_caught:
        return ScenarioResult.failed(
            f"the client was not done after {duration:g} s (it was "
            f"{cluster.status_of('client')}): every request must be answered"
        )
    events = list(cluster.trace.events)
    story = fleet_story(events, began)
    told = "; ".join(f"t={t:.1f} s {what} {name} ({size})" for t, what, name, size in story)
    told = told or "the fleet never changed"

    for t, _, _, size in story:
        if size > high or size < low - 1 or size == 0:
            return ScenarioResult.failed(
                f"the fleet had {size} instances at t={t:.1f} s, outside its bounds "
                f"[{low}, {high}]. The fleet: {told}"
            )
    peak = max([size for *_, size in story], default=low)
    if peak <= low:
        return ScenarioResult.failed("the load rose to 16 requests/s and the fleet never grew")
    for t, what, name, _ in story:
        if what == "terminate" and HIGH[0] <= t <= HIGH[1] and name not in broken:
            return ScenarioResult.failed(
                f"{name} was terminated at t={t:.1f} s while the load was high (the metrics "
                f"service had no reports from t={BLIND[0]:g} s to {BLIND[1]:g} s, and then "
                f"restarted: no data is not no load). The fleet: {told}"
            )
    for name, t in sorted(broken.items(), key=lambda item: item[1]):
        ended = [when for when, what, node, _ in story if what == "terminate" and node == name]
        if not ended:
            return ScenarioResult.failed(
                f"{name} failed at t={t:.1f} s and was never replaced. The fleet: {told}"
            )
    requests = requests_of(events, began)
    late = [latency for t, latency in requests if RECOVERED[0] <= t < RECOVERED[1]]
    latency = p95([x for x in late if x is not None])
    if latency > TARGET_P95:
        return ScenarioResult.failed(
            f"the p95 latency of the requests sent from t={RECOVERED[0]:g} s to "
            f"t={RECOVERED[1]:g} s was {latency:.2f} s, above the target {TARGET_P95:g} s. "
            f"The fleet: {told}"
        )
    # A request queued on an instance that then fails is lost (the lb does not send it to a
    # second instance), and during the ramp the queues are long: the requests sent from
    # request_timeout before the first failure until the last one has left service are excused.
    timeout = cluster.config["request_timeout"]
    excused = (min(broken.values()) - timeout, max(broken.values()) + NOTICED) if broken else (0, 0)
    lost = [
        t
        for t, latency in requests
        if latency is None and t > 1.0 and not excused[0] <= t <= excused[1]
    ]
    if lost:
        return ScenarioResult.failed(
            f"{len(lost)} requests were lost (the first sent at t={lost[0]:.1f} s), not while "
            f"an instance had just failed. The fleet: {told}"
        )
    shrunk = [t for t, what, name, _ in story if what == "terminate" and t > FALL_AT]
    if not shrunk:
        return ScenarioResult.failed(
            f"the load fell to 2 requests/s at t={FALL_AT:g} s and the fleet never scaled in. "
            f"The fleet: {told}"
        )
    final = story[-1][3]
    grown = next((t for t, _, _, size in story if size == peak), 0.0)
    failed = " and ".join(
        f"{name} {'wedged' if name != crashed else 'crashed'} at t={t:.1f} s"
        for name, t in sorted(broken.items(), key=lambda item: item[1])
    )
    on_failed = sum(1 for t, latency in requests if latency is None and t > 1.0)
    return ScenarioResult.ok(
        f"the load rose from 2 to 16 requests/s (t=3-5 s): the fleet grew from {low} to {peak} "
        f"instances (by t={grown:.1f} s) and the clients' p95 latency was {latency:.2f} s from "
        f"t={RECOVERED[0]:g} s (target {TARGET_P95:g} s). {failed}: each left service and was "
        f"replaced ({on_failed} requests queued on them lost). The metrics service had no "
        f"reports from t={BLIND[0]:g} to {BLIND[1]:g} s and then restarted, the autoscaler "
        f"restarted at t={AUTOSCALER_RESTART_AT:g} s: nothing was scaled in meanwhile. The "
        f"load fell at t={FALL_AT:g} s: the fleet drained and scaled in "
        f"to {final} by t={story[-1][0]:.1f} s, losing no request. The fleet: {told}"
    )
