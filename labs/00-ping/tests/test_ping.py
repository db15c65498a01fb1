"""Lab 0's graded tests.

Each test is an ``async def`` body decorated with ``@graded``: its points, how many seeds it
runs (it passes only if every seed passes), its time budget and its visibility. The body gets a
``LabRun``: ``run.cluster(...)`` starts the lab's nodes from the implementation being graded, on
the simulator, seeded with this run's seed.
"""

import trio

from distlab import Cluster
from distlab.grading import CheckFailed, LabRun, faults, graded, no_crashes, within


async def wait_for_pongs(cluster: Cluster, pongs: int, seconds: float) -> None:
    """Wait until the client reports ``pongs`` pongs; fail, saying how far it got, if not soon."""
    with trio.move_on_after(seconds):
        await cluster.wait_for_status("client", lambda s: s.get("pongs", 0) >= pongs)
        return
    status = cluster.status_of("client")
    raise CheckFailed(
        f"the client had {status.get('pongs', 0)} pongs after {seconds:g} s, not the "
        f"{pongs} expected (at t={cluster.now():.3f} s; client {cluster.state('client')})"
    )


async def wait_until_done(cluster: Cluster, seconds: float) -> None:
    """Wait until the client reports done; fail, saying how far it got, after ``seconds``."""
    with trio.move_on_after(seconds):
        await cluster.wait_for_status("client", lambda s: s.get("done") is True)
        return
    status = cluster.status_of("client")
    raise CheckFailed(
        f"the client was not done after {seconds:g} s: it reported "
        f"pongs={status.get('pongs', 0)} of {cluster.config['pings']} "
        f"(at t={cluster.now():.3f} s; client {cluster.state('client')})"
    )


def ping_seqs(cluster: Cluster, *, incarnation: int) -> list[int]:
    """The seq of every ping the given incarnation of the client sent, in order."""
    prefix = f"client/{incarnation}/"
    return [
        e["body"]["seq"]
        for e in cluster.trace.of_kind("send")
        if e["mid"].startswith(prefix) and e["body"]["type"] == "ping"
    ]


def seqs_ponged(cluster: Cluster) -> set[int]:
    """The seqs whose pong the client actually received (from the trace)."""
    pong_seq = {
        e["mid"]: e["body"]["seq"]
        for e in cluster.trace.of_kind("send")
        if e["body"]["type"] == "pong"
    }
    return {
        pong_seq[e["mid"]]
        for e in cluster.trace.of_kind("deliver")
        if e["dest"] == "client" and e["mid"] in pong_seq
    }


@graded(points=2, seeds=50, budget=60)
async def test_all_pongs_arrive(run: LabRun) -> None:
    """On a healthy network, the client collects every pong."""
    async with run.cluster() as cluster:
        await wait_until_done(cluster, 10)
        no_crashes(cluster.trace.events)


@graded(points=3, seeds=100, budget=120)
async def test_lost_pings_are_retried(run: LabRun) -> None:
    """With 30% of messages lost, the client retries until it has every pong."""
    async with run.cluster(drop=0.3, delay=0.005, jitter=0.004) as cluster:
        await wait_until_done(cluster, 60)
        no_crashes(cluster.trace.events)
        missing = set(range(1, cluster.config["pings"] + 1)) - seqs_ponged(cluster)
        if missing:
            raise CheckFailed(
                f"the client reported done, but never received a pong for ping(s) "
                f"{sorted(missing)}: a ping that gets no answer must be sent again"
            )


@graded(points=3, seeds=50, budget=60)
async def test_progress_survives_a_client_crash(run: LabRun) -> None:
    """A client that crashes and restarts carries on from its last pong, not from ping 1."""
    async with run.cluster(config={"pings": 8}, delay=0.01) as cluster:
        await wait_for_pongs(cluster, 3, 10)
        await cluster.crash("client")
        done_before = max(ping_seqs(cluster, incarnation=1))
        await cluster.restart("client")
        await wait_until_done(cluster, 20)
        again = [seq for seq in ping_seqs(cluster, incarnation=2) if seq < done_before]
        if again:
            raise CheckFailed(
                f"after its restart the client pinged seq {again[0]} again, although it had "
                f"already got the pong for it before the crash: it forgot its progress "
                f"(keep what must survive a crash in self.storage)"
            )


@graded(points=2, seeds=30, budget=60)
async def test_a_crash_right_after_a_ping_skips_no_pong(run: LabRun) -> None:
    """The client crashes right after sending a ping, before its pong can arrive, and restarts:
    it must ping that seq again (its progress may only count pongs it received)."""
    async with run.cluster(config={"pings": 6}, delay=0.01) as cluster:
        schedule = run.schedule(cluster)
        async with schedule.running():
            nth = run.random.randint(2, 5)
            await schedule.fire(faults.crash_after("client", "ping", nth=nth))
            with trio.move_on_after(10):
                await cluster.wait_until(lambda: cluster.state("client") == "crashed")
            no_crashes(cluster.trace.events)  # a crash point is deliberate; a bug is not
            pings = ping_seqs(cluster, incarnation=1)
            if cluster.state("client") != "crashed" or not pings:
                raise CheckFailed(
                    f"the client never sent its ping number {nth}: it was armed to crash right "
                    f"after it (client {cluster.state('client')}, {len(pings)} pings sent)"
                )
            crashed_after = pings[-1]
            await trio.sleep(run.random.uniform(0.1, 0.5))  # its pong arrives while it is down
            await schedule.fire(faults.restart("client"))
            await wait_until_done(cluster, 20)
        missing = set(range(1, cluster.config["pings"] + 1)) - seqs_ponged(cluster)
        if missing:
            raise CheckFailed(
                f"the client crashed right after sending ping {crashed_after}, before its pong "
                f"could arrive; after the restart it reported done, but it never received a "
                f"pong for ping(s) {sorted(missing)}: it saved progress for a pong it had not "
                f"got yet (save a pong's seq only once the pong is back)"
            )


@graded(points=2, seeds=50, budget=60)
async def test_the_client_waits_out_a_server_restart(run: LabRun) -> None:
    """The server is down for a second mid-run; the client keeps trying and then finishes."""
    async with run.cluster(config={"pings": 10}, delay=0.01) as cluster:
        schedule = run.schedule(cluster)
        schedule.at(0.05, faults.crash("server"))
        schedule.at(1.05, faults.restart("server"))
        async with schedule.running():
            await trio.sleep(1.1)
        await wait_until_done(cluster, 10)
        [back] = [e.t for e in cluster.trace.of_kind("restart") if e["node"] == "server"]
        within(
            cluster.trace.events,
            after=back,
            seconds=3,
            node="client",
            predicate=lambda status: status.get("done") is True,
            what="the client to finish once the server was back",
        )
        missing = set(range(1, cluster.config["pings"] + 1)) - seqs_ponged(cluster)
        if missing:
            raise CheckFailed(
                f"the client reported done, but never received a pong for ping(s) "
                f"{sorted(missing)}: while the server was down it gave up on them"
            )


@graded(points=1, seeds=20, budget=60, visibility="hidden")
async def test_one_ping_per_pong_on_a_healthy_network(run: LabRun) -> None:
    """Without faults, the client sends exactly one ping per pong it needs: no spamming."""
    async with run.cluster() as cluster:
        await wait_until_done(cluster, 10)
        sent = len(ping_seqs(cluster, incarnation=1))
        wanted = cluster.config["pings"]
        if sent > wanted:
            raise CheckFailed(
                f"the client sent {sent} pings for {wanted} pongs on a network that lost "
                "nothing: send one ping and wait for its pong (or its timeout) before the next"
            )
