"""Lab 5 — Autoscale: a load balancer that scales on metrics.

Read labs/05-autoscale/README.md first. Run it with ``distlab run 5``: the clients' load rises,
the fleet scales out until the latency clients see is back under its target, and when the load
falls it scales in again, draining each instance before the cloud terminates it.

One request, message by message::

    client ──request──▶ lb ──serve──▶ instance-3      (an instance in service, the least busy)
    client ◀──request_ok── lb ◀──serve_ok── instance-3

and, meanwhile, the control loop::

    instance-* ──report──▶ metrics                   (load, every report_interval)
    metrics ──alarm──▶ autoscaler                     (high or low, for enough periods)
    autoscaler ──launch / terminate──▶ cloud          (the only one that creates or removes nodes)
    autoscaler ──register / drain / deregister──▶ lb  (in rotation once healthy; drained first)
    autoscaler ──targets──▶ lb                        (who is unhealthy, and since when)

Who keeps what: the cloud (the lab's, given) knows the fleet; the autoscaler asks it
(``describe``) whenever it starts. The lb keeps the instances registered with it in storage.
The metrics service keeps its samples in memory only: after a restart it has no data, and no
data is not "no load".

Every node is single-threaded in the trio sense: between two ``await``s nothing else runs on it,
so the bookkeeping below needs no locks (the autoscaler's lock keeps its *actions*, which await,
one at a time).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import trio

from distlab import Message, Node, RPCTimeoutError, handler

# -- an instance: serves requests, reports its load ---------------------------------------------


class Instance(Node):
    """Serves the lb's requests one at a time, each taking its ``cost`` seconds (virtual time);
    requests that arrive while it is busy wait in its queue.

    Every ``config["report_interval"]`` seconds it reports its load to ``metrics``: the mean
    number of requests it held (waiting or being served) over that interval, time-weighted
    (``take_load_sample``, given). It answers the lb's ``health`` check with whether its serving
    makes progress. Publishes ``inflight`` and ``served`` with each report.
    """

    def __init__(self) -> None:
        super().__init__()
        # The serving loop's inbox: the lb's serve requests, each answered once served.
        self.inbox_in, self.inbox_out = trio.open_memory_channel[Message](math.inf)
        self.inflight = 0  # requests held: waiting in the inbox, or being served
        self.served = 0
        self.serving_since: float | None = None  # when the request being served began
        self.wedged_for = 0.0  # seconds the next request will hang (see on_wedge)
        self.load_area = 0.0  # integral of inflight over time since load_since
        self.load_since = 0.0
        self.sample_began = 0.0  # when the current load sample began
        self.arrived: dict[Any, float] = {}  # msg_id of a queued request -> when it came
        self.published = (0, 0)  # (inflight, served) as last published

    async def on_start(self) -> None:
        self.load_since = self.sample_began = self.now()
        self.status(inflight=0, served=0)
        self.spawn(self.serving_loop)
        self.every(self.config["report_interval"], self.report_load)

    @handler("serve")
    async def on_serve(self, msg: Message) -> None:
        """Queue the lb's request for the serving loop, which answers it once served."""
        # SOLUTION: note when it came (self.arrived); count it in (load_changed(+1)); queue it
        self.arrived[msg.msg_id] = self.now()
        self.load_changed(+1)
        self.inbox_in.send_nowait(msg)
        # END SOLUTION

    async def serving_loop(self) -> None:
        """Serve the requests of the inbox, one after another, for as long as the node runs."""
        # SOLUTION: for each request in the inbox, serve it
        async for request in self.inbox_out:
            await self.serve_one(request)
        # END SOLUTION

    async def serve_one(self, request: Message) -> None:
        """Serve one request (``run_request``), count it out, answer ``serve_ok``.

        A request that has waited ``config["request_timeout"]`` seconds or more is dropped
        unserved (counted out, no answer): the lb has answered it with an error already, and
        serving it would only delay the requests behind it (``expired``, given)."""
        # SOLUTION: expired: count out, return; else run_request; count out; reply serve_ok
        if self.expired(request):
            self.load_changed(-1)
            return
        await self.run_request(float(request.body.get("cost", self.config["cost"])))
        self.load_changed(-1)
        self.served += 1
        self.reply(request, {"type": "serve_ok", "instance": self.id})
        # END SOLUTION

    async def report_load(self) -> None:
        """Send ``metrics`` a ``report``: this instance, when (``t``), and its ``load``."""
        # SOLUTION: send report {instance, t=now, load=take_load_sample()} (a plain send)
        if (self.inflight, self.served) != self.published:
            self.published = (self.inflight, self.served)
            self.status(inflight=self.inflight, served=self.served)
        self.send(
            "metrics",
            {
                "type": "report",
                "instance": self.id,
                "t": self.now(),
                "load": self.take_load_sample(),
            },
        )
        # END SOLUTION

    @handler("health")
    async def on_health(self, msg: Message) -> None:
        """Answer the lb's health check: ``health_ok`` with ``healthy`` (see is_working)."""
        # SOLUTION: reply health_ok, healthy=is_working()
        self.reply(msg, {"type": "health_ok", "healthy": self.is_working()})
        # END SOLUTION

    def is_working(self) -> bool:
        """Whether serving makes progress: no request has been served for longer than
        ``config["stuck_after"]`` seconds. An idle instance is working; so is a busy one."""
        # SOLUTION: idle, or the current request began less than stuck_after seconds ago
        stuck_after: float = self.config["stuck_after"]
        return self.serving_since is None or self.now() - self.serving_since < stuck_after
        # END SOLUTION

    # -- given: load accounting and the work itself ----------------------------------------------

    def load_changed(self, delta: int) -> None:
        """One more (+1) or one fewer (-1) request held; keeps the time-weighted load."""
        now = self.now()
        self.load_area += self.inflight * (now - self.load_since)
        self.load_since = now
        self.inflight += delta

    def take_load_sample(self) -> float:
        """The mean number of requests held since the last sample (time-weighted); starts
        the next sample. 0.0 for an idle instance, 1.0 for one always serving with nothing
        waiting, 3.0 for one serving with two more waiting, all the time."""
        now = self.now()
        self.load_area += self.inflight * (now - self.load_since)
        span = now - self.sample_began
        sample = self.load_area / span if span > 0 else float(self.inflight)
        self.load_area, self.load_since, self.sample_began = 0.0, now, now
        return round(sample, 3)

    def expired(self, request: Message) -> bool:
        """Whether ``request`` waited so long that the lb has given up on it already."""
        arrived = self.arrived.pop(request.msg_id, self.now())
        timeout: float = self.config["request_timeout"]
        return self.now() - arrived >= timeout

    async def run_request(self, cost: float) -> None:
        """Do a request's work: ``cost`` seconds. A wedged instance (see ``on_wedge``) hangs
        that much longer first, its process up and answering messages all the while."""
        hang, self.wedged_for = self.wedged_for, 0.0
        self.serving_since = self.now()
        try:
            if hang > 0:
                self.log.warning(f"wedged: this request hangs for {hang:g} s")
                self.status(wedged=True)
                await self.sleep(hang)
                self.status(wedged=False)
            await self.sleep(cost)
        finally:
            self.serving_since = None

    @handler("wedge")
    async def on_wedge(self, msg: Message) -> None:
        """(Given: the graded tests and the demo use it.) The next request hangs ``seconds``."""
        self.wedged_for = float(msg.body["seconds"])
        self.log.warning(f"wedged: the next request will hang for {self.wedged_for:g} s")
        self.reply(msg, {"type": "wedge_ok"})


# -- the load balancer ----------------------------------------------------------------------------


@dataclass
class Target:
    """One instance registered with the lb, as the lb sees it."""

    name: str
    healthy: bool = False  # in service only once it has passed a health check
    failed_checks: int = 0  # failed health checks in a row
    unhealthy_since: float | None = None  # when it left the rotation (None: it is healthy)
    draining: bool = False  # being scaled in: no new requests
    inflight: int = 0  # requests the lb has sent it and not had answered
    idle: trio.Event = field(default_factory=trio.Event)  # set whenever inflight falls to 0


class LoadBalancer(Node):
    """Spreads the clients' requests over the instances in service: registered, healthy
    (passed their last health checks) and not draining; each request goes to the one with the
    fewest requests in flight.

    A request is not retried on another instance (it might not be safe to run twice): if its
    instance does not answer within ``config["request_timeout"]``, the client gets an
    ``error`` (502). With no instance in service, an ``error`` (503) at once.

    Keeps the registered instances in storage (``targets``). Publishes ``in_service`` (sorted),
    ``draining`` and ``lost`` (requests answered with an error).
    """

    def __init__(self) -> None:
        super().__init__()
        self.targets: dict[str, Target] = {}
        self.lost = 0
        self.turn = 0  # breaks ties between equally busy instances, in rotation

    async def on_start(self) -> None:
        names = self.storage.get("targets")
        if names is None:  # the first start: the initial fleet is registered
            names = self.nodes_with_role("instance")
            self.storage.put("targets", names)
        self.targets = {name: Target(name) for name in names}
        self.publish()
        self.every(self.config["health_interval"], self.check_health)

    def in_service(self) -> list[str]:
        """The instances that may be given requests, sorted."""
        return sorted(n for n, t in self.targets.items() if t.healthy and not t.draining)

    def publish(self) -> None:
        self.status(
            in_service=self.in_service(),
            draining=sorted(n for n, t in self.targets.items() if t.draining),
            lost=self.lost,
        )

    def save(self) -> None:
        self.storage.put("targets", sorted(self.targets))

    # -- requests --------------------------------------------------------------------------------

    @handler("request")
    async def on_request(self, msg: Message) -> None:
        """Hand a client's request to an instance (``pick``), or answer 503 if none is in
        service."""
        # SOLUTION: pick an instance; none: error 503; else forward
        instance = self.pick()
        if instance is None:
            self.fail(msg, 503, "no instance in service")
            return
        await self.forward(instance, msg)
        # END SOLUTION

    def pick(self) -> str | None:
        """The instance in service with the fewest requests in flight (ties: in rotation);
        None if no instance is in service."""
        # SOLUTION: least in-flight among in_service(), ties broken by self.turn
        names = self.in_service()
        if not names:
            return None
        self.turn += 1
        rotated = names[self.turn % len(names) :] + names[: self.turn % len(names)]
        return min(rotated, key=lambda n: self.targets[n].inflight)
        # END SOLUTION

    async def forward(self, instance: str, msg: Message) -> None:
        """Send the request to ``instance`` (``serve``, with its ``cost`` if it has one) and
        answer the client ``request_ok`` with the ``instance`` that served it; no answer within
        ``request_timeout``: error 502. Keep the target's ``inflight`` count right throughout:
        draining waits for it to fall to 0 (set ``idle`` then)."""
        # SOLUTION: inflight += 1; rpc serve; reply request_ok / fail 502; finally inflight -= 1
        target = self.targets[instance]
        target.inflight += 1
        target.idle = trio.Event() if target.idle.is_set() else target.idle
        body: dict[str, Any] = {"type": "serve"}
        if "cost" in msg.body:
            body["cost"] = msg.body["cost"]
        try:
            reply = await self.rpc(instance, body, timeout=self.config["request_timeout"])
            self.reply(msg, {"type": "request_ok", "instance": reply.body.get("instance")})
        except RPCTimeoutError:
            self.fail(msg, 502, f"{instance} did not answer")
        finally:
            target.inflight -= 1
            if target.inflight == 0:
                target.idle.set()
        # END SOLUTION

    def fail(self, msg: Message, code: int, text: str) -> None:
        self.lost += 1
        self.publish()
        self.reply(msg, {"type": "error", "code": code, "text": text})

    # -- the autoscaler's requests ---------------------------------------------------------------

    @handler("register")
    async def on_register(self, msg: Message) -> None:
        """Register an instance: in service once it passes a health check, and check it at
        once (a new instance is wanted now). Answer ``register_ok``."""
        # SOLUTION: add a Target (not healthy yet) unless known; save; check it now; reply
        name = msg.body["instance"]
        if name not in self.targets:
            self.targets[name] = Target(name)
            self.save()
            self.log.info(f"{name} registered: in service once it passes a health check")
            self.spawn(self.check_instance, name)
        self.reply(msg, {"type": "register_ok", "instance": name})
        # END SOLUTION

    @handler("drain")
    async def on_drain(self, msg: Message) -> None:
        """Take an instance out of the rotation at once, and answer ``drain_ok`` once every
        request in flight on it is answered (or after ``config["drain_timeout"]``:
        ``drained=False``)."""
        # SOLUTION: mark draining; wait for idle (at most drain_timeout); reply drain_ok
        name = msg.body["instance"]
        target = self.targets.get(name)
        if target is None:
            self.reply(msg, {"type": "drain_ok", "instance": name, "drained": True})
            return
        if not target.draining:
            target.draining = True
            self.log.info(f"draining {name}: {target.inflight} requests in flight")
            self.publish()
        drained = True
        if target.inflight > 0:
            with trio.move_on_after(self.config["drain_timeout"]):
                await target.idle.wait()
            drained = target.inflight == 0
        self.reply(msg, {"type": "drain_ok", "instance": name, "drained": drained})
        # END SOLUTION

    @handler("deregister")
    async def on_deregister(self, msg: Message) -> None:
        """Forget an instance (it is being terminated). Answer ``deregister_ok``."""
        # SOLUTION: remove it; save; publish; reply deregister_ok
        name = msg.body["instance"]
        if self.targets.pop(name, None) is not None:
            self.save()
            self.publish()
        self.reply(msg, {"type": "deregister_ok", "instance": name})
        # END SOLUTION

    @handler("targets")
    async def on_targets(self, msg: Message) -> None:
        """(Given.) Each registered instance's state, for the autoscaler."""
        targets = {
            name: {
                "healthy": t.healthy,
                "draining": t.draining,
                "unhealthy_since": t.unhealthy_since,
                "inflight": t.inflight,
            }
            for name, t in sorted(self.targets.items())
        }
        self.reply(msg, {"type": "targets_ok", "targets": targets})

    # -- health ----------------------------------------------------------------------------------

    async def check_health(self) -> None:
        """(Given.) One round of health checks: every registered instance at once."""
        async with trio.open_nursery() as nursery:
            for name in list(self.targets):
                nursery.start_soon(self.check_instance, name)

    async def check_instance(self, name: str) -> None:
        """Ask ``name`` whether its serving works (``health``); a passed check if it answers
        ``healthy=True`` within ``config["health_timeout"]``, a failed one otherwise."""
        # SOLUTION: rpc health; check_passed iff healthy is True; else check_failed
        try:
            reply = await self.rpc(name, {"type": "health"}, timeout=self.config["health_timeout"])
        except RPCTimeoutError:
            self.check_failed(name, "no answer")
            return
        if reply.body.get("healthy") is True:
            self.check_passed(name)
        else:
            self.check_failed(name, "its serving is stuck")
        # END SOLUTION

    def check_passed(self, name: str) -> None:
        """A passed check: the instance is (back) in service."""
        # SOLUTION: reset failed checks; if it was not healthy: healthy, unhealthy_since None
        target = self.targets.get(name)
        if target is None:
            return
        target.failed_checks = 0
        if not target.healthy:
            target.healthy, target.unhealthy_since = True, None
            self.log.info(f"{name} passed its health check: in service")
            self.publish()
        # END SOLUTION

    def check_failed(self, name: str, why: str) -> None:
        """A failed check: after ``config["unhealthy_after"]`` in a row, out of service
        (``unhealthy_since`` says since when)."""
        # SOLUTION: count it; at unhealthy_after in a row: not healthy, unhealthy_since = now
        target = self.targets.get(name)
        if target is None:
            return
        target.failed_checks += 1
        if target.failed_checks >= self.config["unhealthy_after"]:
            if target.unhealthy_since is None:
                target.unhealthy_since = self.now()
            if target.healthy:
                target.healthy = False
                self.log.warning(f"{name} failed {target.failed_checks} checks ({why}): out")
                self.publish()
        # END SOLUTION


# -- the metrics service --------------------------------------------------------------------------


class Metrics(Node):
    """Collects the instances' load reports and raises alarms.

    Every ``config["period"]`` seconds it computes the fleet's load: the mean, over the
    instances that reported in the last ``config["window"]`` seconds (by the time each sample
    was taken, ``t``), of each one's mean load. Above ``high_load`` for ``high_periods``
    periods in a row, it sends the autoscaler an ``alarm`` ``high``, every period while that
    holds; below ``low_load`` for ``low_periods`` in a row, an ``alarm`` ``low``. A period with
    no data breaks both streaks: **no data is not "no load"**.

    Keeps its samples in memory only. Publishes ``load`` (None: no data) and ``alarm``
    (``"high"``, ``"low"``, ``"ok"`` or ``"no data"``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.samples: dict[str, deque[tuple[float, float]]] = {}  # instance -> (t, load)
        self.high_streak = 0
        self.low_streak = 0
        self.shown: tuple[float | None, str] = (None, "no data")  # as last published

    async def on_start(self) -> None:
        self.status(load=None, alarm="no data")
        self.every(self.config["period"], self.evaluate)

    def publish(self, load: float | None, alarm: str) -> None:
        """(Given.) Publish ``load`` (to one decimal) and ``alarm`` when either changes."""
        shown = (None if load is None else round(load, 1), alarm)
        if shown != self.shown:
            self.shown = shown
            self.status(load=shown[0], alarm=alarm)

    @handler("report")
    async def on_report(self, msg: Message) -> None:
        """Keep an instance's sample: ``(t, load)``."""
        # SOLUTION: append (t, load) to the instance's samples
        self.samples.setdefault(msg.body["instance"], deque()).append(
            (float(msg.body["t"]), float(msg.body["load"]))
        )
        # END SOLUTION

    def fleet_load(self) -> float | None:
        """The mean over the instances of each one's mean load over the samples taken in the
        last ``window`` seconds; None if there are none (no data). Forget older samples."""
        # SOLUTION: drop samples older than now - window; mean of per-instance means, or None
        since = self.now() - self.config["window"]
        means = []
        for instance, samples in list(self.samples.items()):
            while samples and samples[0][0] < since:
                samples.popleft()
            if not samples:
                del self.samples[instance]
                continue
            means.append(sum(load for _, load in samples) / len(samples))
        return sum(means) / len(means) if means else None
        # END SOLUTION

    async def evaluate(self) -> None:
        """One period: the fleet's load, the streaks, and an alarm if one holds."""
        # SOLUTION: no data: reset both streaks; else count streaks, send alarm high/low
        load = self.fleet_load()
        if load is None:
            self.high_streak = self.low_streak = 0
            self.publish(None, "no data")
            return
        self.high_streak = self.high_streak + 1 if load > self.config["high_load"] else 0
        self.low_streak = self.low_streak + 1 if load < self.config["low_load"] else 0
        alarm = "ok"
        if self.high_streak >= self.config["high_periods"]:
            alarm = "high"
        elif self.low_streak >= self.config["low_periods"]:
            alarm = "low"
        self.publish(load, alarm)
        if alarm != "ok":
            self.send("autoscaler", {"type": "alarm", "alarm": alarm, "load": round(load, 3)})
        # END SOLUTION


# -- the autoscaler -------------------------------------------------------------------------------


class Autoscaler(Node):
    """Keeps the fleet between ``min_instances`` and ``max_instances``, sized to the load.

    On an ``alarm`` ``high`` it launches one instance, or two if the load is far past the
    threshold (the cloud boots them), and registers them with the lb; on ``low`` it drains one
    at the lb, has the cloud terminate it, deregisters it. After either, it ignores alarms for
    ``config["cooldown"]`` seconds. Every ``check_interval`` it asks the lb for its ``targets``
    and replaces an instance unhealthy for ``replace_after`` seconds (terminate it, launch
    another). One action at a time (``self.lock``).

    The fleet is the cloud's: the autoscaler asks it (``describe``) when it starts. Publishes
    ``fleet`` (sorted), ``actions`` (how many launches and terminations) and ``cooling_until``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fleet: list[str] = []  # the instances, oldest first, booting ones included
        self.lock = trio.Lock()  # one action at a time
        self.ready = trio.Event()  # set once the fleet is known
        self.cooling_until = 0.0
        self.actions = 0

    async def on_start(self) -> None:
        self.spawn(self.start)

    async def start(self) -> None:
        """(Given.) Learn the fleet from the cloud; register every instance with the lb (a
        launch cut short by a crash may not have), each booting one once it is up."""
        reply = await self.ask("cloud", {"type": "describe"})
        self.fleet = list(reply["instances"])
        for name in self.fleet:
            if name in reply.get("booting", []):
                self.spawn(self.register_once_up, name)
            else:
                await self.ask("lb", {"type": "register", "instance": name})
        self.ready.set()
        self.publish()
        self.every(self.config["check_interval"], self.check_targets)

    async def register_once_up(self, name: str) -> None:
        """(Given.) Register ``name`` with the lb once the cloud says it has booted."""
        while True:
            await self.sleep(self.config["timeout"])
            reply = await self.ask("cloud", {"type": "describe"})
            if name not in reply["instances"]:
                return
            if name not in reply.get("booting", []):
                await self.ask("lb", {"type": "register", "instance": name})
                return

    def publish(self) -> None:
        self.status(
            fleet=sorted(self.fleet), actions=self.actions, cooling_until=self.cooling_until
        )

    @handler("alarm")
    async def on_alarm(self, msg: Message) -> None:
        """Act on an alarm: ``high``, scale out; ``low``, scale in. Not while another action
        runs, nor while cooling down, nor before the fleet is known."""
        # SOLUTION: ignore if not ready, locked or cooling; else scale_out / scale_in
        if not self.ready.is_set() or self.lock.locked() or self.now() < self.cooling_until:
            return
        if msg.body.get("alarm") == "high":
            await self.scale_out(float(msg.body.get("load", 0.0)))
        elif msg.body.get("alarm") == "low":
            await self.scale_in()
        # END SOLUTION

    async def scale_out(self, load: float) -> None:
        """Launch instances, as many as ``steps_for(load)`` says, at the same time, but never
        past ``max_instances``; then cool down."""
        # SOLUTION: under the lock: how many (steps_for, up to max); add_instance each, at once
        async with self.lock:
            wanted = min(self.steps_for(load), self.config["max_instances"] - len(self.fleet))
            if wanted <= 0:
                return
            async with trio.open_nursery() as nursery:
                for _ in range(wanted):
                    nursery.start_soon(self.add_instance)
            self.cooling_until = self.now() + self.config["cooldown"]
            self.publish()
        # END SOLUTION

    def steps_for(self, load: float) -> int:
        """(Given: step scaling.) How many instances a ``high`` alarm at ``load`` calls for:
        one for each ``high_load`` in the load, at least one, at most ``max_step``."""
        high_load: float = self.config["high_load"]
        most: int = self.config["max_step"]
        return max(1, min(most, int(load // high_load)))

    async def scale_in(self) -> None:
        """Remove one instance (the newest), unless the fleet is at ``min_instances``: drain
        it at the lb first, then terminate it; then cool down."""
        # SOLUTION: under the lock: at min: return; victim = newest; drain; remove; cool down
        async with self.lock:
            if len(self.fleet) <= self.config["min_instances"]:
                return
            victim = self.fleet[-1]
            await self.ask(
                "lb",
                {"type": "drain", "instance": victim},
                timeout=self.config["drain_timeout"] + 1,
            )
            await self.remove_instance(victim)
            self.cooling_until = self.now() + self.config["cooldown"]
            self.publish()
        # END SOLUTION

    async def check_targets(self) -> None:
        """Ask the lb for its targets; replace every instance of the fleet that has been
        unhealthy for ``config["replace_after"]`` seconds or more."""
        # SOLUTION: rpc targets (one try: the next round asks again); replace the long-unhealthy
        try:
            reply = await self.rpc("lb", {"type": "targets"}, timeout=self.config["timeout"])
        except RPCTimeoutError:
            return
        for name, target in reply.body["targets"].items():
            since = target.get("unhealthy_since")
            if (
                name in self.fleet
                and since is not None
                and self.now() - since >= self.config["replace_after"]
            ):
                await self.replace(name)
        # END SOLUTION

    async def replace(self, name: str) -> None:
        """Replace an unhealthy instance: remove it (no draining: it is not answering), then
        launch another. No cooldown: a replacement is not a change of size."""
        # SOLUTION: under the lock, if still in the fleet: remove_instance; add_instance
        async with self.lock:
            if name not in self.fleet:
                return
            self.log.warning(f"{name} is unhealthy: replacing it")
            await self.remove_instance(name)
            await self.add_instance()
        # END SOLUTION

    # -- given: the cloud's and the lb's side of an action ---------------------------------------

    async def add_instance(self) -> str | None:
        """Have the cloud launch an instance (it answers once booted), count it in the fleet,
        register it with the lb; its name, or None if the cloud refused. The launch carries a
        token, so that asking again after a lost answer does not launch two."""
        token = self.storage.get("tokens", 0) + 1
        self.storage.put("tokens", token)
        reply = await self.ask(
            "cloud",
            {"type": "launch", "token": f"{self.id}-{token}"},
            timeout=self.config["boot_seconds"] + 1.0,
        )
        if "instance" not in reply:  # an error: the account's limit, say
            self.log.warning(f"the cloud launched nothing: {reply.get('text')}")
            return None
        name = str(reply["instance"])
        if name not in self.fleet:
            self.fleet.append(name)
        self.actions += 1
        self.publish()
        await self.ask("lb", {"type": "register", "instance": name})
        self.log.info(f"launched {name}: fleet of {len(self.fleet)}")
        return name

    async def remove_instance(self, name: str) -> None:
        """Have the cloud terminate ``name``, forget it, deregister it at the lb."""
        await self.ask("cloud", {"type": "terminate", "instance": name})
        if name in self.fleet:
            self.fleet.remove(name)
        self.actions += 1
        self.publish()
        await self.ask("lb", {"type": "deregister", "instance": name})
        self.log.info(f"terminated {name}: fleet of {len(self.fleet)}")

    async def ask(
        self, dest: str, body: dict[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """rpc ``body`` to ``dest`` until it answers; its answer's body."""
        while True:
            try:
                reply = await self.rpc(dest, body, timeout=timeout or self.config["timeout"])
                return dict(reply.body)
            except RPCTimeoutError:
                self.log.info(f"{dest} did not answer {body['type']}; asking again")
