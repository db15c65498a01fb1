"""Lab 1's graded tests.

Each test starts the master and the workers from the implementation being graded (the lab's demo
client stays idle: ``client_jobs = 0``), sends its own ``sum`` requests from harness clients
(``run.client``), and checks the answers, the time they took, and the trace: which numbers went
to which worker, and which shares the master counted (its ``counted`` status).

Every wait is bounded, so an implementation that never answers fails in plain words instead of
running out of time.
"""

from collections import Counter
from contextlib import AbstractAsyncContextManager
from typing import Any

import trio

from distlab import Cluster, TraceEvent
from grading import (
    CheckFailed,
    Client,
    FaultSchedule,
    LabRun,
    effects_from_status,
    exactly_once,
    expect_equal,
    faults,
    graded,
    latency_percentile,
    messages_per_operation,
    no_crashes,
)

#: seconds a harness client waits for an answer before it gives up (or asks again)
CLIENT_TIMEOUT = 2.0
#: seconds within which a job must be answered when a worker fails: a few of the master's
#: timeouts (config["timeout"] = 0.25 s), far less than waiting for a worker to come back
DEADLINE = 1.0


# -- helpers ----------------------------------------------------------------------------------


def sum_cluster(run: LabRun, **network: Any) -> AbstractAsyncContextManager[Cluster]:
    """The lab's cluster with the demo client idle; ``network`` settings as for run.cluster."""
    return run.cluster(config={"client_jobs": 0}, **network)


def random_numbers(run: LabRun, count: int) -> list[int]:
    return [run.random.randint(-1000, 1000) for _ in range(count)]


def workers(cluster: Cluster) -> list[str]:
    return cluster.roster.with_role("worker")


async def ask(
    client: Client, cluster: Cluster, numbers: list[int], *, attempts: int = 1
) -> dict[str, Any]:
    """Ask the master for the sum of ``numbers`` (up to ``attempts`` times) and check the answer.

    Returns the ``sum_ok`` body. Fails if no answer comes, or if the answer is not the exact sum.
    """
    began = cluster.now()
    for _ in range(attempts):
        reply = await client.call(
            "master", {"type": "sum", "numbers": numbers}, timeout=CLIENT_TIMEOUT
        )
        if reply is not None:
            body = dict(reply.body)
            expect_equal(
                body.get("sum"),
                sum(numbers),
                what=f"the sum of {len(numbers)} numbers {client.name} asked for at "
                f"t={began:.3f} s (answered at t={cluster.now():.3f} s)",
            )
            return body
    tries = "" if attempts == 1 else f" {attempts} times"
    each = "" if attempts == 1 else " each time"
    master = {k: v for k, v in cluster.status_of("master").items() if k != "counted"}
    raise CheckFailed(
        f"{client.name} asked the master for the sum of {len(numbers)} numbers{tries} from "
        f"t={began:.3f} s, and got no answer within {CLIENT_TIMEOUT:g} s{each} (at "
        f"t={cluster.now():.3f} s the master was {cluster.state('master')}, status {master})"
    )


def sends(cluster: Cluster, msg_type: str) -> list[TraceEvent]:
    """Every send event of a message of ``msg_type``, in order."""
    return [e for e in cluster.trace.of_kind("send") if e["body"].get("type") == msg_type]


def answered_jobs(cluster: Cluster) -> list[str]:
    """The id of every job the master answered (sent a ``sum_ok`` for), in order."""
    return [str(e["body"].get("job")) for e in sends(cluster, "sum_ok") if e["src"] == "master"]


def check_each_share_counted_once(cluster: Cluster, *, all_answered: bool = True) -> None:
    """Every share of every job the master answered was counted exactly once.

    With ``all_answered``, every job the master counted shares of must also have been answered;
    without it, shares of jobs still running may have been counted too.
    """
    shares = len(workers(cluster))
    expected = [f"{job}:{share}" for job in answered_jobs(cluster) for share in range(shares)]
    exactly_once(
        effects_from_status(cluster.trace.events, field="counted"),
        expected=expected,
        what="the shares the master counted (its status counted='<job>:<share>')",
        allow_unexpected=not all_answered,
    )


def with_faults(error: CheckFailed, schedule: FaultSchedule) -> CheckFailed:
    """The same failure, saying which faults the test injected, and when."""
    done = "; ".join(f"t={t:.3f} s: {words}" for t, words in schedule.log) or "none yet"
    return CheckFailed(f"{error} (faults injected: {done})")


# -- Part A: split and merge ------------------------------------------------------------------


@graded(points=2, seeds=100, budget=150)
async def test_the_sum_is_exact(run: LabRun) -> None:
    """On a healthy network, the master answers the exact sum, even of 0, 1 or 2 numbers."""
    async with sum_cluster(run, delay=0.002, jitter=0.001) as cluster:
        client = await run.client(cluster)
        for numbers in (
            [],
            [7],
            [-3, 5],
            list(range(1, 101)),
            random_numbers(run, run.random.randint(3, 60)),
        ):
            await ask(client, cluster, numbers)
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=100, budget=150)
async def test_shares_are_fair(run: LabRun) -> None:
    """Without faults, every worker is sent its fair share of each job's numbers, no more."""
    async with sum_cluster(run, delay=0.002, jitter=0.001) as cluster:
        client = await run.client(cluster)
        sizes = {}
        for count in (30, 31, 32, run.random.randint(40, 90)):
            answer = await ask(client, cluster, random_numbers(run, count))
            sizes[str(answer.get("job"))] = count
        k = len(workers(cluster))
        sent: Counter[tuple[str, str]] = Counter()
        for e in sends(cluster, "partial"):
            sent[(str(e["body"].get("job")), e["dest"])] += len(e["body"].get("numbers", []))
        for job, count in sizes.items():
            fair = -(-count // k)  # count / k, rounded up
            for worker in workers(cluster):
                if sent[(job, worker)] > fair:
                    raise CheckFailed(
                        f"in job {job} ({count} numbers, {k} workers) the master sent "
                        f"{worker} {sent[(job, worker)]} numbers, more than its fair share of "
                        f"{fair}: split the numbers evenly, round-robin, one share per worker"
                    )


# -- Part B: failures -------------------------------------------------------------------------


@graded(points=3, seeds=100, budget=150)
async def test_a_crashed_workers_share_is_reassigned(run: LabRun) -> None:
    """A worker crashes mid-job: its share goes to another worker; every job is exact, in time."""
    async with sum_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        schedule = run.schedule(cluster)
        schedule.at(run.random.uniform(0.01, 0.08), faults.crash(faults.random_node("worker")))
        async with schedule.running():
            try:
                for _ in range(6):
                    await ask(client, cluster, random_numbers(run, 60))
                if not schedule.log:
                    raise CheckFailed("the test's crash never fired: the jobs ended too soon")
                latency_percentile(run.history, percentile=100, at_most=DEADLINE, f="sum")
            except CheckFailed as error:
                raise with_faults(error, schedule) from None
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=100, budget=150)
async def test_lost_messages_are_recovered(run: LabRun) -> None:
    """With 20% of messages lost, every sum is still exact (the client asks again if need be)."""
    async with sum_cluster(run, drop=0.2, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        for _ in range(5):
            await ask(client, cluster, random_numbers(run, 45), attempts=20)
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=100, budget=150)
async def test_a_slow_worker_is_worked_around(run: LabRun) -> None:
    """A worker is paused for 2 s: the master reassigns its share and answers within 1 s."""
    async with sum_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        schedule = run.schedule(cluster)
        schedule.at(0.01, faults.pause(faults.random_node("worker"), seconds=2.0))
        async with schedule.running():
            try:
                await trio.sleep(0.02)
                for _ in range(3):
                    await ask(client, cluster, random_numbers(run, 60))
                # By t=2.5 s the worker is back, and has answered its share late.
                await trio.sleep(max(0.0, 2.5 - cluster.now()))
                await ask(client, cluster, random_numbers(run, 60))
                latency_percentile(run.history, percentile=100, at_most=DEADLINE, f="sum")
            except CheckFailed as error:
                raise with_faults(error, schedule) from None
        check_each_share_counted_once(cluster)
        no_crashes(cluster.trace.events)


@graded(points=3, seeds=100, budget=150)
async def test_each_share_is_counted_once(run: LabRun) -> None:
    """With duplicated and reordered messages, the master counts each share exactly once."""
    async with sum_cluster(run, duplicate=0.3, delay=0.01, jitter=0.01) as cluster:
        client = await run.client(cluster)
        try:
            for _ in range(6):
                await ask(client, cluster, random_numbers(run, 30))
        except CheckFailed:
            # A wrong sum: if a share was counted twice, say so, it is the more useful message.
            check_each_share_counted_once(cluster, all_answered=False)
            raise
        await trio.sleep(1.0)  # let the jobs that duplicated requests started finish too
        check_each_share_counted_once(cluster)
        no_crashes(cluster.trace.events)


# -- Part C: many clients, workers that come back ---------------------------------------------


@graded(points=2, seeds=100, budget=150)
async def test_concurrent_jobs_from_several_clients(run: LabRun) -> None:
    """Three clients ask for sums at once: every answer is exact, every share counted once."""
    async with sum_cluster(run, delay=0.01, jitter=0.008) as cluster:
        clients = [await run.client(cluster, name=f"client-{i}") for i in (1, 2, 3)]

        async def ask_three(client: Client) -> None:
            for _ in range(3):
                await ask(client, cluster, random_numbers(run, run.random.randint(10, 60)))

        async with trio.open_nursery() as nursery:
            for client in clients:
                nursery.start_soon(ask_three, client)
        check_each_share_counted_once(cluster)
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=100, budget=150)
async def test_a_restarted_worker_gets_work_again(run: LabRun) -> None:
    """A worker crashes, misses a job, and restarts: in later jobs the master uses it again."""
    async with sum_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        victim = run.random.choice(workers(cluster))
        crashed = cluster.now()
        await cluster.crash(victim)
        await ask(client, cluster, random_numbers(run, 30))  # the victim's share goes elsewhere
        await trio.sleep(0.2)
        await cluster.restart(victim)
        back = cluster.now()
        # Long enough for any suspicion of the victim to have expired.
        await trio.sleep(cluster.config["suspect_for"] + 0.5)
        later = cluster.now()
        for _ in range(3):
            await ask(client, cluster, random_numbers(run, 30))
        given = [e for e in sends(cluster, "partial") if e["dest"] == victim and e.t > later]
        if not given:
            others = sorted({e["dest"] for e in sends(cluster, "partial") if e.t > later})
            raise CheckFailed(
                f"{victim} crashed at t={crashed:.3f} s and was back at t={back:.3f} s, but "
                f"in the 3 jobs from t={later:.3f} s the master never sent it a share (only "
                f"{', '.join(others) or 'nobody'} got shares): a worker that comes back must "
                "get work again, so do not write a silent worker off for good"
            )
        no_crashes(cluster.trace.events)


# -- on real sockets --------------------------------------------------------------------------


@graded(points=1, seeds=3, budget=40, runtime="live")
async def test_on_real_sockets(run: LabRun) -> None:
    """On real sockets and real time: exact sums, also with a worker crashed."""
    async with sum_cluster(run) as cluster:
        client = await run.client(cluster)
        for _ in range(3):
            await ask(client, cluster, random_numbers(run, 50))
        await cluster.crash(run.random.choice(workers(cluster)))
        for _ in range(3):
            await ask(client, cluster, random_numbers(run, 50))
        latency_percentile(run.history, percentile=100, at_most=DEADLINE, f="sum")
        no_crashes(cluster.trace.events)


# -- efficiency (hidden) ----------------------------------------------------------------------


@graded(points=1, seeds=100, budget=150, visibility="hidden")
async def test_few_messages_per_job_on_a_healthy_network(run: LabRun) -> None:
    """Without faults, a job costs one request, one answer, and one message each way per share."""
    async with sum_cluster(run, delay=0.002, jitter=0.001) as cluster:
        client = await run.client(cluster)
        for _ in range(5):
            await ask(client, cluster, random_numbers(run, 40))
        messages_per_operation(
            cluster.trace.events, run.history, at_most=2 + 2 * len(workers(cluster))
        )
