"""Lab 5's graded tests.

Each test starts the service from the implementation being graded, without the lab's demo
client (``counts={"client": 0}``): the test's own users (a harness client, ``run.client``) send
requests to the lb at a rate the test sets (a ramp, a fall, an oscillation), and the checks rest
on what those users were told (``run.history``): the latency of each request, and which were
lost (an ``error``, or no answer within ``USER_TIMEOUT``). The fleet's size comes from the
trace: the cloud's ``spawn`` and ``terminate`` events, which only the lab's cloud causes.

Every wait is bounded, so an implementation that never answers fails in plain words instead of
running out of time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import trio

from distlab import Cluster, TraceEvent
from distlab.grading import CheckFailed, Client, LabRun, faults, graded, no_crashes

#: seconds a user waits for the lb's answer; past it, the request is lost
USER_TIMEOUT = 8.0
#: the latency (s) the clients' 95th percentile must be back under, once the fleet has scaled
TARGET_P95 = 1.5
#: seconds for which the users' rate is taken as constant
RATE_STEP = 0.1
#: when the users start: once the lb has had time to health-check the initial fleet
WARM_UP = 0.6


# -- helpers ----------------------------------------------------------------------------------


def service(
    run: LabRun, *, instances: int | None = None, config: Mapping[str, Any] | None = None
) -> AbstractAsyncContextManager[Cluster]:
    """The service without the demo client (``instances``: the initial fleet, if not the
    lab's), on a network with small delays."""
    counts = {"client": 0} if instances is None else {"client": 0, "instance": instances}
    return run.cluster(config=config, counts=counts, delay=0.002)


def rate_at(load: list[tuple[float, float]], t: float) -> float:
    """Requests per second at ``t`` for a ``[(t, rate), ...]`` profile (straight lines)."""
    if t <= load[0][0]:
        return load[0][1]
    for (t0, r0), (t1, r1) in itertools.pairwise(load):
        if t0 <= t < t1:
            return r0 + (r1 - r0) * (t - t0) / (t1 - t0)
    return load[-1][1]


async def users(
    run: LabRun,
    cluster: Cluster,
    load: list[tuple[float, float]] | Callable[[], float],
    *,
    until: float,
    cost: float | None = None,
) -> None:
    """Send requests to the lb at the profile's rate (random arrivals) until ``until`` (the
    cluster's clock), then wait for every answer. ``load``: a ``[(t, rate), ...]`` profile, or
    a function that gives the rate now. ``cost``: each request's work, if not the lab's
    ``cost``."""
    client = await run.client(cluster, name="users")
    body: dict[str, Any] = {"type": "request"}
    if cost is not None:
        body["cost"] = cost
    async with trio.open_nursery() as nursery:
        while cluster.now() < until:
            rate = load() if callable(load) else rate_at(load, cluster.now())
            if rate <= 0:
                await trio.sleep(RATE_STEP)
                continue
            gap = run.random.expovariate(rate)
            if gap > RATE_STEP:  # no request in this step: draw again at the next step's rate
                await trio.sleep(RATE_STEP)
                continue
            await trio.sleep(gap)
            if cluster.now() < until:
                nursery.start_soon(ask, client, body)


async def ask(client: Client, body: dict[str, Any]) -> None:
    await client.call("lb", body, timeout=USER_TIMEOUT)


Request = tuple[float, float | None, str]  # sent at, latency (None: lost), what happened


def requests(run: LabRun, since: float = 0.0, until: float = float("inf")) -> list[Request]:
    """The requests sent in ``[since, until)``: when, their latency, and what they were told."""
    found: list[Request] = []
    for start, end in run.history.completions():
        if not since <= start.t < until:
            continue
        if end is None or end.kind == "timeout":
            found.append((start.t, None, f"no answer within {USER_TIMEOUT:g} s"))
        elif end.kind == "fail":
            value = end.value or {}
            found.append((start.t, None, f"error {value.get('code')}: {value.get('text')}"))
        else:
            instance = (end.value or {}).get("instance")
            found.append((start.t, end.t - start.t, f"served by {instance}"))
    return found


def p95(done: list[Request]) -> float:
    latencies = sorted(latency for _, latency, _ in done if latency is not None)
    if not latencies:
        return float("inf")
    return latencies[max(0, -(-95 * len(latencies) // 100) - 1)]


def no_request_lost(run: LabRun, since: float, until: float = float("inf"), *, why: str) -> None:
    lost = [(t, what) for t, latency, what in requests(run, since, until) if latency is None]
    if lost:
        shown = "; ".join(f"sent at t={t:.2f} s: {what}" for t, what in lost[:4])
        more = f" (and {len(lost) - 4} more)" if len(lost) > 4 else ""
        raise CheckFailed(f"{len(lost)} requests were lost {why}: {shown}{more}")


def fleet_changes(cluster: Cluster) -> list[tuple[float, str, str]]:
    """(t, "launch" | "terminate", instance) for each change of the fleet, from the trace."""
    changes = []
    for event in cluster.trace.of_kind("spawn", "terminate"):
        node = str(event["node"])
        if not node.startswith("instance-"):
            continue
        changes.append((event.t, "launch" if event.kind == "spawn" else "terminate", node))
    return changes


def scaling_actions(cluster: Cluster) -> list[tuple[float, str, list[str]]]:
    """The fleet's changes grouped into actions: instances launched (or terminated) together,
    in one step, count as one action."""
    actions: list[tuple[float, str, list[str]]] = []
    for t, what, name in fleet_changes(cluster):
        if actions and actions[-1][1] == what and t - actions[-1][0] < 0.1:
            actions[-1][2].append(name)
        else:
            actions.append((t, what, [name]))
    return actions


def fleet_sizes(cluster: Cluster) -> list[tuple[float, int]]:
    """The fleet's size after each change: (t, size), starting with the initial fleet."""
    size = sum(1 for name in cluster.trace.events[0]["nodes"] if name.startswith("instance-"))
    sizes = [(0.0, size)]
    for t, what, _ in fleet_changes(cluster):
        size += 1 if what == "launch" else -1
        sizes.append((t, size))
    return sizes


def size_at(cluster: Cluster, t: float) -> int:
    return [size for when, size in fleet_sizes(cluster) if when <= t][-1]


def story(cluster: Cluster) -> str:
    changes = fleet_changes(cluster)
    if not changes:
        return "the fleet never changed"
    return "; ".join(f"t={t:.2f} s {what} {name}" for t, what, name in changes)


def within_bounds(run: LabRun, cluster: Cluster) -> None:
    low, high = run.config["min_instances"], run.config["max_instances"]
    for t, size in fleet_sizes(cluster):
        if size > high:
            raise CheckFailed(
                f"the fleet had {size} instances at t={t:.2f} s, more than max_instances "
                f"({high}). The fleet: {story(cluster)}"
            )
        if size < low - 1 or size == 0:
            raise CheckFailed(
                f"the fleet had {size} instances at t={t:.2f} s, fewer than min_instances "
                f"({low}). The fleet: {story(cluster)}"
            )
    sizes = fleet_sizes(cluster)
    for (t, size), (later, _) in itertools.pairwise([*sizes, (cluster.now(), 0)]):
        if size < low and later - t > run.config["boot_seconds"] + 1.0:
            raise CheckFailed(
                f"the fleet had {size} instances from t={t:.2f} s to t={later:.2f} s, fewer "
                f"than min_instances ({low}) for longer than a replacement takes. The fleet: "
                f"{story(cluster)}"
            )


def least_busy_picked(cluster: Cluster) -> None:
    """Each request the lb hands on goes to an instance in service with the fewest requests in
    flight, from the trace: a ``serve`` is in flight from the lb's send until the lb gets its
    ``serve_ok`` (or ``request_timeout`` has passed). One request of slack: the lb may pick
    in the instant an answer is on its way in."""
    timeout: float = cluster.config["request_timeout"]
    flying: dict[str, dict[int, float]] = {}  # instance -> {serve's msg_id: sent at}
    answers: dict[str, Any] = {}  # a serve_ok's mid -> the serve it answers
    whose: dict[Any, str] = {}  # a serve's msg_id -> its instance
    in_service: list[str] = []
    for event in cluster.trace.events:
        if event.kind == "status" and event["node"] == "lb":
            in_service = list(event["fields"].get("in_service", in_service))
        elif event.kind == "send" and event["src"] == "lb" and event["body"].get("type") == "serve":
            name, t = str(event["dest"]), event.t
            counts = {
                n: sum(1 for sent in flying.get(n, {}).values() if t - sent < timeout)
                for n in in_service
            }
            if counts and counts.get(name, 0) > min(counts.values()) + 1:
                shown = ", ".join(f"{n} {c}" for n, c in sorted(counts.items()))
                raise CheckFailed(
                    f"at t={t:.2f} s the lb handed a request to {name}, with "
                    f"{counts.get(name, 0)} requests in flight, while another instance in "
                    f"service had {min(counts.values())} (in flight: {shown}): each request "
                    "goes to the instance with the fewest requests in flight"
                )
            msg_id = event["body"].get("msg_id")
            flying.setdefault(name, {})[msg_id] = t
            whose[msg_id] = name
        elif event.kind == "send" and event["dest"] == "lb":
            if event["body"].get("type") == "serve_ok":
                answers[str(event["mid"])] = event["body"].get("in_reply_to")
        elif event.kind == "deliver" and event["dest"] == "lb" and event.get("type") == "serve_ok":
            serve = answers.pop(str(event["mid"]), None)
            flying.get(whose.get(serve, ""), {}).pop(serve, None)


# -- the tests --------------------------------------------------------------------------------

RAMP = [(0.0, 2.0), (1.0, 2.0), (2.0, 16.0)]
RAMP_END = 2.0
RECOVERED_BY = 12.0  # seconds: the p95 is measured over the requests sent from here on
RAMP_UNTIL = 14.0


@graded(points=3, seeds=15, budget=120)
async def test_a_load_ramp_is_met_by_scaling_out(run: LabRun) -> None:
    """The load ramps up past the fleet's capacity: it scales out, and the p95 latency clients
    see is back under the target within 10 s of the ramp's end."""
    async with service(run) as cluster:
        await trio.sleep(WARM_UP)
        await users(run, cluster, RAMP, until=RAMP_UNTIL)
        no_crashes(cluster.trace.events)
        peak = max(size for _, size in fleet_sizes(cluster))
        if peak <= run.config["min_instances"]:
            raise CheckFailed(
                f"the load rose from 2 to 16 requests/s at t={RAMP_END:g} s (an instance serves "
                f"{1 / run.config['cost']:g}/s) and the fleet never scaled out: {story(cluster)}"
            )
        late = requests(run, RECOVERED_BY, RAMP_UNTIL)
        latency = p95(late)
        if latency > TARGET_P95:
            raise CheckFailed(
                f"the p95 latency of the requests sent from t={RECOVERED_BY:g} s to "
                f"t={RAMP_UNTIL:g} s was {latency:.2f} s, above the target {TARGET_P95:g} s, "
                f"{RECOVERED_BY - RAMP_END:g} s after the ramp ended; the fleet: {story(cluster)}"
            )
        no_request_lost(run, 0.0, why="while the service scaled out")
        within_bounds(run, cluster)
        least_busy_picked(cluster)


# -- on real sockets (graded early: its real time overlaps the simulated tests) -------------------

#: on real time, a quicker service: instances boot in 0.3 s, health checks every 0.25 s, the
#: autoscaler looks at the targets every 0.25 s and replaces an instance unhealthy for 0.2 s
LIVE_CONFIG = {
    "cost": 0.05,
    "boot_seconds": 0.3,
    "health_interval": 0.25,
    "check_interval": 0.25,
    "replace_after": 0.2,
}
LIVE_REQUESTS = 6  # requests sent before the crash, and again after the replacement
LIVE_WITHIN = 8.0  # seconds: for the service to come up, and for the replacement
LIVE_ANSWER = 3.0  # seconds a request may take on a busy machine


async def served(client: Client, count: int, *, why: str) -> None:
    """Send ``count`` requests one after another: each must be served."""
    for i in range(count):
        reply = await client.call("lb", {"type": "request"}, timeout=LIVE_ANSWER)
        if reply is None or reply.type != "request_ok":
            got = (
                f"no answer within {LIVE_ANSWER:g} s"
                if reply is None
                else f"{reply.type} {reply.body}"
            )
            raise CheckFailed(f"request {i + 1} of {count} {why} was not served: {got}")


@graded(points=1, seeds=3, budget=60, runtime="live")
async def test_on_real_sockets(run: LabRun) -> None:
    """On real sockets and real time: requests are served, an instance crashes, the cloud
    launches a replacement, and requests are served again."""
    async with service(run, config=LIVE_CONFIG) as cluster:
        initial = ["instance-1", "instance-2"]

        def lb_in_service() -> list[str]:
            return list(cluster.status_of("lb").get("in_service", []))

        up = await came_true(cluster, lambda: set(initial) <= set(lb_in_service()), LIVE_WITHIN)
        if not up:
            no_crashes(cluster.trace.events)
            raise CheckFailed(
                f"the lb did not have {' and '.join(initial)} in service within "
                f"{LIVE_WITHIN:g} s of the start (in service: {lb_in_service()})"
            )
        client = await run.client(cluster, name="users")
        await served(client, LIVE_REQUESTS, why="before any fault")
        victim = run.random.choice(initial)
        await cluster.crash(victim)
        crashed_at = cluster.now()

        def replacement() -> list[str]:
            return [n for n in lb_in_service() if n not in initial]

        if not await came_true(cluster, replacement, LIVE_WITHIN):
            no_crashes(cluster.trace.events)
            raise CheckFailed(
                f"{victim} crashed at t={crashed_at:.2f} s and no new instance was in service "
                f"within {LIVE_WITHIN:g} s (in service: {lb_in_service()}). The fleet: "
                f"{story(cluster)}"
            )
        await served(client, LIVE_REQUESTS, why=f"once {replacement()[0]} replaced {victim}")
    no_crashes(cluster.trace.events)
    if not any(kind == "terminate" and name == victim for _, kind, name in fleet_changes(cluster)):
        raise CheckFailed(
            f"{victim} crashed and was replaced, but never terminated: {story(cluster)}"
        )


async def came_true(cluster: Cluster, predicate: Callable[[], object], seconds: float) -> bool:
    """Whether ``predicate()`` holds now or becomes true within ``seconds``."""
    with trio.move_on_after(seconds):
        await cluster.wait_until(lambda: bool(predicate()))
        return True
    return False


# -- in the simulator, again ----------------------------------------------------------------------

#: the drain test: six instances, each kept busy about half the time by the users (their rate
#: follows the fleet in service), with the alarm "low" below 0.9 for this test: the fleet is
#: scaled in, one instance at a time, while every instance has work in flight half the time
DRAIN_FLEET, DRAIN_BUSY, DRAIN_COST, DRAIN_LOW_LOAD = 6, 0.5, 0.5, 0.9
DRAIN_UNTIL = 10.0


class InService:
    """The lb's ``in_service``, as last published (read from the trace as it grows)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.read = 0  # trace events read so far
        self.names: list[str] = []

    def __call__(self) -> list[str]:
        events = self.cluster.trace.events
        for event in events[self.read :]:
            if event.kind == "status" and event["node"] == "lb":
                self.names = list(event["fields"].get("in_service", self.names))
        self.read = len(events)
        return self.names


@graded(points=3, seeds=20, budget=120)
async def test_scaling_in_drains_first(run: LabRun) -> None:
    """Six instances, each busy half the time with long requests, under a "low" threshold
    raised to 0.9: the fleet scales in, and no request in flight on an instance being
    terminated is lost: it is drained first."""
    config = {"low_load": DRAIN_LOW_LOAD}
    async with service(run, instances=DRAIN_FLEET, config=config) as cluster:
        await trio.sleep(WARM_UP)
        in_service = InService(cluster)

        def rate() -> float:  # each instance in service busy DRAIN_BUSY of the time
            return len(in_service()) * DRAIN_BUSY / DRAIN_COST

        await users(run, cluster, rate, until=DRAIN_UNTIL, cost=DRAIN_COST)
        no_crashes(cluster.trace.events)
        terminated = [c for c in fleet_changes(cluster) if c[1] == "terminate"]
        if not terminated:
            raise CheckFailed(
                f"{DRAIN_FLEET} instances, each busy {DRAIN_BUSY:.0%} of the time (a fleet load "
                f"of about {DRAIN_BUSY:g}, under low_load, {DRAIN_LOW_LOAD:g} in this test), "
                f"for {DRAIN_UNTIL - WARM_UP:g} s, and the fleet never scaled in"
            )
        no_request_lost(
            run, WARM_UP, why=f"while the fleet scaled in ({story(cluster)}): drain first"
        )
        within_bounds(run, cluster)


BURST_AT = 1.0  # seconds: the burst comes in the half second from here
BURST_SIZE = (18, 20)  # requests, at once: more than two instances serve in 2 s
BURST_UNTIL = 6.0  # seconds: a second scale-out would have shown by then


@graded(points=2, seeds=20, budget=60)
async def test_a_burst_is_scaled_out_for_once(run: LabRun) -> None:
    """A burst of requests, then nothing: the fleet scales out once for it, and not again on
    metrics that still show the burst once it has been served (cooldown)."""
    async with service(run) as cluster:
        client = await run.client(cluster, name="users")
        await trio.sleep(BURST_AT + run.random.uniform(0.0, 0.5) - cluster.now())
        began = cluster.now()
        size = run.random.randint(*BURST_SIZE)
        body = {"type": "request"}
        async with trio.open_nursery() as nursery:
            for _ in range(size):
                nursery.start_soon(ask, client, body)
                await trio.sleep(run.random.uniform(0.0, 0.4 / size))
            await trio.sleep(max(0.0, BURST_UNTIL - cluster.now()))
        no_crashes(cluster.trace.events)
        no_request_lost(run, 0.0, why="in the burst")
        done_by = max(t + latency for t, latency, _ in requests(run) if latency is not None)
        outs = [a for a in scaling_actions(cluster) if a[1] == "launch"]
        if not outs:
            raise CheckFailed(
                f"a burst of {size} requests at t={began:.2f} s (two instances serve "
                f"{2 / run.config['cost']:g}/s) and the fleet never scaled out"
            )
        if len(outs) > 1:
            t, _, names = outs[1]
            raise CheckFailed(
                f"a burst of {size} requests at t={began:.2f} s, all served by "
                f"t={done_by:.2f} s: the fleet scaled out for it at t={outs[0][0]:.2f} s "
                f"({', '.join(outs[0][2])} up), and again at t={t:.2f} s ({', '.join(names)}), "
                "on metrics that still showed the burst. After an action, wait cooldown "
                f"({run.config['cooldown']:g} s) for the metrics to show it. The fleet: "
                f"{story(cluster)}"
            )
        within_bounds(run, cluster)


WAVE_HIGH, WAVE_LOW, WAVE_HALF = 11.0, 3.0, 2.0  # requests/s; seconds each
WAVE_UNTIL = 16.0
MOST_ACTIONS = 4  # scaling actions in all (launches, terminations)


@graded(points=2, seeds=20, budget=120)
async def test_oscillating_load_does_not_flap(run: LabRun) -> None:
    """The load swings between 3 and 11 requests/s every 2 s: the fleet may grow for the
    peaks, but it is scaled at most 4 times in 16 s (cooldown, hysteresis)."""
    wave: list[tuple[float, float]] = []
    t = 0.0
    while t < WAVE_UNTIL:
        wave += [(t, WAVE_HIGH), (t + WAVE_HALF - 0.01, WAVE_HIGH)]
        wave += [(t + WAVE_HALF, WAVE_LOW), (t + 2 * WAVE_HALF - 0.01, WAVE_LOW)]
        t += 2 * WAVE_HALF
    async with service(run) as cluster:
        await trio.sleep(WARM_UP)
        await users(run, cluster, wave, until=WAVE_UNTIL)
        no_crashes(cluster.trace.events)
        actions = scaling_actions(cluster)
        if len(actions) > MOST_ACTIONS:
            raise CheckFailed(
                f"the load swung between {WAVE_LOW:g} and {WAVE_HIGH:g} requests/s every "
                f"{WAVE_HALF:g} s, and the fleet was scaled {len(actions)} times in "
                f"{WAVE_UNTIL:g} s (at most {MOST_ACTIONS}; instances launched together count "
                f"once): {story(cluster)}. Cool down after each action, and ask for more "
                "periods of low load than of high before scaling in"
            )
        within_bounds(run, cluster)


STEADY = [(0.0, 6.0)]
CRASH_AT, WEDGE_AT, FAULTS_UNTIL = 2.0, 6.5, 12.0
CRASH_NOTICED, WEDGE_NOTICED = 1.5, 2.5  # seconds: out of service by then
QUEUED = 1.0  # seconds: requests sent this long before the wedge may wait behind its hang
REPLACED_WITHIN = 5.5  # seconds after each fault: terminated, and another launched


def in_service_at(cluster: Cluster, t: float) -> list[str]:
    """The instances the lb said were in service at ``t`` (its last ``in_service`` before)."""
    last: list[str] = []
    for event in cluster.trace.of_kind("status"):
        if event.t > t:
            break
        if event["node"] == "lb" and "in_service" in event["fields"]:
            last = list(event["fields"]["in_service"])
    return last


def replaced(cluster: Cluster, name: str, since: float, *, what: str) -> None:
    changes = fleet_changes(cluster)
    ended = [t for t, kind, node in changes if kind == "terminate" and node == name]
    launched = [t for t, kind, _ in changes if kind == "launch" and t > since]
    if not ended or ended[0] > since + REPLACED_WITHIN:
        raise CheckFailed(
            f"{name} {what} at t={since:.2f} s and was not terminated within "
            f"{REPLACED_WITHIN:g} s: an unhealthy instance must be replaced. The fleet: "
            f"{story(cluster)}"
        )
    if not launched or launched[0] > since + REPLACED_WITHIN:
        raise CheckFailed(
            f"{name} {what} at t={since:.2f} s; it was terminated, but no instance was launched "
            f"within {REPLACED_WITHIN:g} s to replace it. The fleet: {story(cluster)}"
        )


@graded(points=3, seeds=20, budget=120)
async def test_a_crashed_or_wedged_instance_is_replaced(run: LabRun) -> None:
    """Under a steady load, an instance crashes, later another wedges (its process up): each
    leaves service, is replaced within 5.5 s, and every request sent once it is out is served
    (those in flight on it when it failed may be lost)."""
    async with service(run, instances=3) as cluster:
        crashed: list[str] = []
        wedged: list[str] = []

        async def break_two() -> None:
            await trio.sleep(CRASH_AT - cluster.now())
            victims = in_service_at(cluster, cluster.now()) or ["instance-1"]
            crashed.append(run.random.choice(victims))
            await cluster.crash(crashed[0])
            await trio.sleep(WEDGE_AT - cluster.now())
            others = [n for n in in_service_at(cluster, cluster.now()) if n not in crashed]
            wedged.append(run.random.choice(others or ["instance-2"]))
            operator = await run.client(cluster, name="operator")
            await operator.call(wedged[0], {"type": "wedge", "seconds": 30.0}, timeout=1.0)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(break_two)
            await trio.sleep(WARM_UP)
            await users(run, cluster, STEADY, until=FAULTS_UNTIL)
        no_crashes(cluster.trace.events)
        replaced(cluster, crashed[0], CRASH_AT, what="crashed")
        replaced(cluster, wedged[0], WEDGE_AT, what="was wedged (its process up)")
        no_request_lost(
            run,
            CRASH_AT + CRASH_NOTICED,
            WEDGE_AT - QUEUED,
            why=f"once {crashed[0]} had crashed (at t={CRASH_AT:g} s) and left service",
        )
        no_request_lost(
            run,
            WEDGE_AT + WEDGE_NOTICED,
            why=f"once {wedged[0]} was wedged (at t={WEDGE_AT:g} s) and left service",
        )
        within_bounds(run, cluster)


BUSY, BUSY_COST = [(0.0, 5.0)], 0.5  # the load of 10 requests/s of 0.25 s
BLIND_AT, LATE_AT, RESTART_AT, BLIND_UNTIL = 2.0, 6.0, 10.0, 14.0
LATE_BY = 2.5  # seconds every message to metrics takes from LATE_AT to RESTART_AT
NO_DATA_FROM = BLIND_AT + 1.5  # by then, and until RESTART_AT, no sample is in the window


def metrics_had_no_data(cluster: Cluster, since: float, until: float, *, why: str) -> None:
    """From ``since`` to ``until``, metrics' status said no data (``load`` None)."""
    shown: TraceEvent | None = None  # the status in force
    for event in cluster.trace.of_kind("status"):
        if event.t >= until:
            break
        if event["node"] != "metrics" or "load" not in event["fields"]:
            continue
        if event.t >= since and shown is not None and shown.t < since:
            metrics_had_no_data_at(shown, since, why=why)
        shown = event
        if event.t >= since:
            metrics_had_no_data_at(event, event.t, why=why)
    if shown is not None and shown.t < since:
        metrics_had_no_data_at(shown, since, why=why)


def metrics_had_no_data_at(event: TraceEvent, t: float, *, why: str) -> None:
    fields = event["fields"]
    if fields.get("load") is not None:
        raise CheckFailed(
            f"at t={t:.2f} s metrics said the fleet's load was {fields.get('load')} (alarm "
            f"{fields.get('alarm')!r}), {why}: it had no data. A sample counts by the time it "
            "was taken (its t), not when its report came: a late report is an old one"
        )


@graded(points=3, seeds=20, budget=120)
async def test_missing_metrics_are_not_no_load(run: LabRun) -> None:
    """Under a steady load that 4 instances serve, the metrics service loses its reports
    (cut off from the instances), then gets them 2.5 s late, then restarts with nothing:
    the fleet is never scaled in meanwhile. No data is not "no load"."""
    async with service(run, instances=4) as cluster:
        happened: list[str] = []

        async def blind_it() -> None:
            await trio.sleep(BLIND_AT - cluster.now())
            happened.append(f"t={cluster.now():.2f} s: the instances' reports to metrics lost")
            cut: set[str] = set()
            while cluster.now() < LATE_AT:  # new instances too, as they are launched
                for name in cluster.roster.with_role("instance"):
                    if name not in cut:
                        cluster.network.block(name, "metrics")
                        cut.add(name)
                await trio.sleep(0.05)
            cluster.network.heal()
            await faults.slow_node("metrics", delay=LATE_BY, way="in").apply(cluster, run.random)
            happened.append(f"t={cluster.now():.2f} s: every message to metrics {LATE_BY:g} s late")
            await trio.sleep(RESTART_AT - cluster.now())
            await faults.slow_node("metrics", delay=0.002, way="in").apply(cluster, run.random)
            await cluster.restart("metrics")
            happened.append(f"t={cluster.now():.2f} s: metrics restarted, its samples lost")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(blind_it)
            await trio.sleep(WARM_UP)
            await users(run, cluster, BUSY, until=BLIND_UNTIL, cost=BUSY_COST)
        no_crashes(cluster.trace.events)
        terminated = [c for c in fleet_changes(cluster) if c[1] == "terminate"]
        if terminated:
            t, _, name = terminated[0]
            raise CheckFailed(
                f"{name} was terminated at t={t:.2f} s while the load stayed at "
                f"{BUSY[0][1]:g} requests/s of {BUSY_COST:g} s ({'; '.join(happened)}): no data is "
                f"not no load. "
                f"The fleet: {story(cluster)}"
            )
        within_bounds(run, cluster)
        window = run.config["window"]
        metrics_had_no_data(
            cluster,
            NO_DATA_FROM,
            RESTART_AT,
            why=f"while every report it got was lost or {LATE_BY:g} s late (older than the "
            f"window, {window:g} s)",
        )


QUIET_UNTIL = 5.0  # no load at first: the alarm "low" goes off, at min_instances
OVERLOAD, OVERLOAD_COST, OVERLOAD_UNTIL = 7.0, 1.0, 11.5  # requests/s, s each: 7 instances' work
AUTOSCALER_DOWN = (9.0, 9.3)
BOUNDS_UNTIL = 12.0


@graded(points=2, seeds=20, budget=120)
async def test_the_fleet_stays_within_its_bounds(run: LabRun) -> None:
    """No load at all, then more than max_instances can serve, the autoscaler restarting
    meanwhile: the fleet stays at min_instances, then grows to max_instances and no further."""
    async with service(run) as cluster:

        async def restart_autoscaler() -> None:
            await trio.sleep(AUTOSCALER_DOWN[0] - cluster.now())
            await cluster.crash("autoscaler")
            await trio.sleep(AUTOSCALER_DOWN[1] - cluster.now())
            await cluster.restart("autoscaler")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(restart_autoscaler)
            await trio.sleep(QUIET_UNTIL)
            load = [(0.0, OVERLOAD)]
            await users(run, cluster, load, until=OVERLOAD_UNTIL, cost=OVERLOAD_COST)
            await trio.sleep(max(0.0, BOUNDS_UNTIL - cluster.now()))
        no_crashes(cluster.trace.events)
        within_bounds(run, cluster)
        high = run.config["max_instances"]
        peak = max(size for _, size in fleet_sizes(cluster))
        if peak < high:
            raise CheckFailed(
                f"the load needed 7 instances and the fleet grew to {peak} only, not to "
                f"max_instances ({high}): {story(cluster)}"
            )
