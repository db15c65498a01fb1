"""Lab 0's demo: a client collects its pongs through three things that go wrong on networks.

1. A healthy network, slow enough to watch (50 ms each way): one ping per pong, no more.
2. From the second pong on, the network loses 30% of messages: a ping that gets no pong must be
   sent again, until its pong comes back.
(Faults given on the command line, ``--drop 0.5`` say, are kept where they are worse.)
3. After the third pong, the client crashes and restarts: it carries on from its last pong
   (kept in storage), not from ping 1.

Each lesson is judged from the trace (what was really sent and delivered), and told in words.
"""

import trio

from distlab import Cluster, ScenarioResult, TraceEvent

DELAY = 0.05  # seconds each way: slow enough to watch, quick enough for a short demo
DROP = 0.3


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    wanted: int = cluster.config["pings"]
    asked = cluster.network.state.default  # what --drop, --delay... asked for: kept, or more
    cluster.network.set_faults(delay=max(asked.delay, DELAY))
    with trio.move_on_after(duration) as out_of_time:
        await pongs_reach(cluster, 2)
        healthy_until = cluster.now()
        cluster.network.set_faults(drop=max(asked.drop, DROP))
        await pongs_reach(cluster, 3)
        await cluster.restart("client")
        restarted_at = cluster.now()
        await cluster.wait_for_status("client", lambda status: status.get("done") is True)
    events = cluster.trace.events
    if out_of_time.cancelled_caught:
        got = len(pongs_received(events))
        return ScenarioResult.failed(f"the client got {got} of {wanted} pongs in {duration:g} s")
    problems = [
        too_many_pings(events, before=healthy_until),
        missing_pongs(events, wanted),
        pinged_again_after_restart(events, restarted_at),
    ]
    problems = [p for p in problems if p]
    if problems:
        return ScenarioResult.failed("; ".join(problems))
    return ScenarioResult.ok(
        f"the client got all {wanted} pongs: one ping per pong while the network was healthy, "
        f"lost pings sent again once it lost {DROP:.0%} of messages, and after its restart it "
        "carried on from its last pong"
    )


async def pongs_reach(cluster: Cluster, count: int) -> None:
    await cluster.wait_for_status("client", lambda status: status.get("pongs", 0) >= count)


def sent(events: list[TraceEvent], msg_type: str, *, src: str) -> list[TraceEvent]:
    return [
        e for e in events if e.kind == "send" and e["src"] == src and e["body"]["type"] == msg_type
    ]


def pongs_received(events: list[TraceEvent]) -> set[int]:
    """The seqs of the pongs that reached the client."""
    pongs = {e["mid"]: e["body"].get("seq") for e in sent(events, "pong", src="server")}
    return {
        pongs[e["mid"]]
        for e in events
        if e.kind == "deliver" and e["dest"] == "client" and e["mid"] in pongs
    }


def too_many_pings(events: list[TraceEvent], *, before: float) -> str:
    if any(e.kind in ("drop", "duplicate") and e.t <= before for e in events):
        return ""  # the network was not healthy (--drop, --duplicate): retries are right
    pings = [e for e in sent(events, "ping", src="client") if e.t <= before]
    seqs = {e["body"].get("seq") for e in pings}
    if len(pings) <= len(seqs):
        return ""
    return (
        f"on a healthy network the client sent {len(pings)} pings for {len(seqs)} pongs: send one "
        "ping and wait for its pong (or its timeout) before sending it again"
    )


def missing_pongs(events: list[TraceEvent], wanted: int) -> str:
    missing = sorted(set(range(1, wanted + 1)) - pongs_received(events))
    if not missing:
        return ""
    return (
        f"the client said it was done, but never got the pong for ping(s) {missing}: a ping "
        "that gets no answer must be sent again, not given up on"
    )


def pinged_again_after_restart(events: list[TraceEvent], restarted_at: float) -> str:
    had = pongs_received([e for e in events if e.t <= restarted_at])
    again = sorted(
        {
            e["body"].get("seq")
            for e in sent(events, "ping", src="client")
            if e.t > restarted_at and e["body"].get("seq") in had
        }
    )
    if not again:
        return ""
    return (
        f"after its restart the client pinged {again} again, though it had their pongs before "
        "the crash: keep your progress in self.storage, which survives a crash"
    )
