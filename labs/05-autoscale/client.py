"""The lab's client (given): the users of the service, as one node.

It sends ``request``s to the lb at a rate that follows ``config["client_load"]``: a list of
``[t, rate]`` points (seconds since the client started, requests per second), the rate going
in a straight line from one point to the next and staying at the last one's until
``config["client_until"]``. Arrivals are random (a Poisson process at that rate), each request a
task of its own, so a slow service does not slow the client down: requests pile up, as real
users' do.

It records each request's latency (from the request to its ``request_ok``); a request answered
with an ``error``, or not at all within ``config["client_timeout"]``, is *lost*. Every second it
publishes ``rate`` (the rate it sends at), ``sent``, ``ok``, ``lost``, ``p95`` (the 95th
percentile of the latency of the requests answered in that second, in seconds) and, once it has
stopped and every request has its answer, ``done``. The graded tests do not use it (they set
``counts={"client": 0}``): their own clients send the requests, and their checks read what
those were told.
"""

from __future__ import annotations

import itertools
import math

from distlab import Node, RPCTimeoutError


def rate_at(load: list[list[float]], t: float) -> float:
    """Requests per second at ``t`` for a ``[[t, rate], ...]`` profile (straight lines)."""
    if not load:
        return 0.0
    if t <= load[0][0]:
        return float(load[0][1])
    for (t0, r0), (t1, r1) in itertools.pairwise(load):
        if t0 <= t < t1:
            return float(r0 + (r1 - r0) * (t - t0) / (t1 - t0))
    return float(load[-1][1])


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; 0.0 if there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class LoadClient(Node):
    async def on_start(self) -> None:
        self.sent = self.ok = self.lost = 0
        self.pending = 0
        self.latencies: list[float] = []  # this second's
        self.status(rate=0.0, sent=0, ok=0, lost=0, p95=0.0, done=False)
        self.began = self.now()
        self.every(1.0, self.publish)
        self.spawn(self.send_requests)

    async def send_requests(self) -> None:
        load: list[list[float]] = self.config["client_load"]
        until: float = self.config["client_until"]
        while (t := self.now() - self.began) < until:
            rate = rate_at(load, t)
            if rate <= 0:
                await self.sleep(0.1)
                continue
            gap = self.random.expovariate(rate)
            if gap > 0.1:  # none in the next 0.1 s: draw again then, at that time's rate
                await self.sleep(0.1)
                continue
            await self.sleep(gap)
            self.sent += 1
            self.pending += 1
            self.spawn(self.request)

    async def request(self) -> None:
        began = self.now()
        try:
            reply = await self.rpc("lb", {"type": "request"}, timeout=self.config["client_timeout"])
        except RPCTimeoutError:
            self.lost += 1
        else:
            if reply.type == "error":
                self.lost += 1
            else:
                self.ok += 1
                self.latencies.append(self.now() - began)
        self.pending -= 1

    async def publish(self) -> None:
        t = self.now() - self.began
        self.status(
            rate=round(rate_at(self.config["client_load"], t), 1),
            sent=self.sent,
            ok=self.ok,
            lost=self.lost,
            p95=round(percentile(self.latencies, 95), 3),
            done=t >= self.config["client_until"] and self.pending == 0,
        )
        self.latencies = []
