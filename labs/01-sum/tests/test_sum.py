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
from functools import partial
from itertools import pairwise
from typing import Any

import trio

from distlab import Cluster, TraceEvent
from distlab.grading import (
    CheckFailed,
    Client,
    FaultSchedule,
    History,
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
#: seconds a slow worker takes to answer: longer than three of the master's timeouts (0.25 s),
#: so that the master has given up on every worker once before the first answer comes
LATE = 0.8


# -- helpers ----------------------------------------------------------------------------------


def sum_cluster(run: LabRun, **network: Any) -> AbstractAsyncContextManager[Cluster]:
    """The lab's cluster with the demo client idle; ``network`` settings as for run.cluster."""
    return run.cluster(config={"client_jobs": 0}, **network)


def random_numbers(run: LabRun, count: int) -> list[int]:
    return [run.random.randint(-1000, 1000) for _ in range(count)]


def numbers_in_words(numbers: list[int]) -> str:
    return "1 number" if len(numbers) == 1 else f"{len(numbers)} numbers"


def workers(cluster: Cluster) -> list[str]:
    return cluster.roster.with_role("worker")


async def ask(
    client: Client,
    cluster: Cluster,
    numbers: list[int],
    *,
    attempts: int = 1,
    timeout: float = CLIENT_TIMEOUT,
) -> dict[str, Any]:
    """Ask the master for the sum of ``numbers`` (up to ``attempts`` times) and check the answer.

    Each attempt waits ``timeout`` seconds. Returns the ``sum_ok`` body. Fails if no answer
    comes, or if the answer is not the exact sum.
    """
    began = cluster.now()
    for _ in range(attempts):
        reply = await client.call("master", {"type": "sum", "numbers": numbers}, timeout=timeout)
        if reply is not None:
            body = dict(reply.body)
            expect_equal(
                body.get("sum"),
                sum(numbers),
                what=f"the sum of {numbers_in_words(numbers)} {client.name} asked for at "
                f"t={began:.3f} s (answered at t={cluster.now():.3f} s, as job "
                f"{body.get('job')})",
            )
            return body
    no_crashes(cluster.trace.events)  # the master's own error is the better message
    tries = "" if attempts == 1 else f" {attempts} times"
    each = "" if attempts == 1 else " each time"
    master = {k: v for k, v in cluster.status_of("master").items() if k != "counted"}
    raise CheckFailed(
        f"{client.name} asked the master for the sum of {numbers_in_words(numbers)}{tries} from "
        f"t={began:.3f} s, and got no answer within {timeout:g} s{each} (at "
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


def check_job_ids_never_repeat(cluster: Cluster, history: History) -> None:
    """No job id was given twice: not to two clients, not by two incarnations of the master.

    Judged from what the clients were told (each ``sum_ok``'s ``job``) and from the ids in the
    master's ``partial`` messages, which every incarnation of the master sends under its own
    name (``mid`` is ``master/<incarnation>/<n>``). A repeated id lets a late partial sum for
    the old job be counted in the new one.
    """
    told: dict[str, tuple[str, float]] = {}
    for invoke, done in history.completions():
        if invoke.f != "sum" or done is None or done.kind != "ok":
            continue
        if "job" not in done.value:
            raise CheckFailed(
                f"the master's sum_ok to {invoke.process} at t={done.t:.3f} s has no 'job' field: "
                "it must say the id the master gave the request"
            )
        job = str(done.value["job"])
        if job in told:
            first, at = told[job]
            raise CheckFailed(
                f"the master told {first} at t={at:.3f} s that its sum was job {job}, and "
                f"{invoke.process} at t={done.t:.3f} s that its sum was job {job} too: job ids "
                "must never repeat, or a late partial sum for the first is counted in the second"
            )
        told[job] = (invoke.process, done.t)
    first_use: dict[str, tuple[str, float]] = {}
    for e in sends(cluster, "partial"):
        if e["src"] != "master":
            continue
        job, incarnation = str(e["body"].get("job")), str(e["mid"]).split("/")[1]
        used = first_use.setdefault(job, (incarnation, e.t))
        if used[0] != incarnation:
            raise CheckFailed(
                f"the master sent shares of job {job} at t={used[1]:.3f} s, crashed and "
                f"restarted, and at t={e.t:.3f} s its new incarnation gave the id {job} to "
                "another job: job ids must never repeat, even after a restart (keep the count "
                "in self.storage), or a partial sum the old master asked for is counted in the "
                "new job"
            )


def check_a_silent_worker_is_skipped(cluster: Cluster) -> None:
    """After a share sent to a crashed worker, the master sends it none for ``suspect_for`` s.

    The share timed out (the worker is down): the master suspects the worker, and does not make
    the next jobs wait a whole timeout for it again until the suspicion expires.
    """
    suspect_for: float = cluster.config["suspect_for"]
    for crash in cluster.trace.of_kind("crash"):
        victim = crash["node"]
        given = [e.t for e in sends(cluster, "partial") if e["dest"] == victim and e.t > crash.t]
        for before, after in pairwise(given):
            if after - before < suspect_for:
                raise CheckFailed(
                    f"{victim} crashed at t={crash.t:.3f} s; the master sent it a share at "
                    f"t={before:.3f} s, which could only time out, and another at "
                    f"t={after:.3f} s, {after - before:.3f} s later: a worker that let a share "
                    f"time out must be skipped for suspect_for ({suspect_for:g} s), or every "
                    "job waits a whole timeout for it"
                )


def first_failure(errors: BaseExceptionGroup[CheckFailed]) -> CheckFailed:
    """The first check that failed among clients asking at once (the others were cancelled)."""
    group: BaseException = errors
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    assert isinstance(group, CheckFailed)
    return group


def with_faults(error: CheckFailed, schedule: FaultSchedule) -> CheckFailed:
    """The same failure, saying which faults the test injected, and when."""
    done = "; ".join(f"t={t:.3f} s: {words}" for t, words in schedule.log) or "none yet"
    return CheckFailed(f"{error} (faults injected: {done})")


# -- Part A: split and merge ------------------------------------------------------------------


@graded(points=2, seeds=30, budget=150)
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


@graded(points=2, seeds=30, budget=150)
async def test_shares_are_fair(run: LabRun) -> None:
    """Without faults, every worker is sent its fair share of each job's numbers, no more."""
    async with sum_cluster(run, delay=0.002, jitter=0.001) as cluster:
        client = await run.client(cluster)
        sizes = {}
        for count in (30, 31, 32, run.random.randint(40, 90)):
            answer = await ask(client, cluster, random_numbers(run, count))
            sizes[str(answer.get("job"))] = count
        check_job_ids_never_repeat(cluster, run.history)  # the shares are told apart by job
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


@graded(points=3, seeds=50, budget=150)
async def test_a_crashed_workers_share_is_reassigned(run: LabRun) -> None:
    """A worker crashes mid-job: its share goes to another worker, and the master skips it for a
    while; every job is exact, in time."""
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
                check_a_silent_worker_is_skipped(cluster)
            except CheckFailed as error:
                raise with_faults(error, schedule) from None
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=30, budget=150)
async def test_one_worker_is_enough(run: LabRun) -> None:
    """Two workers crash mid-job: the one left computes every share; every job exact, in time."""
    async with sum_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        survivor = run.random.choice(workers(cluster))
        schedule = run.schedule(cluster)
        for worker in workers(cluster):
            if worker != survivor:
                schedule.at(run.random.uniform(0.005, 0.05), faults.crash(worker))
        async with schedule.running():
            try:
                for _ in range(4):
                    await ask(client, cluster, random_numbers(run, 30))
                latency_percentile(run.history, percentile=100, at_most=DEADLINE, f="sum")
            except CheckFailed as error:
                raise CheckFailed(
                    f"{with_faults(error, schedule)}. Only {survivor} was up: as long as one "
                    "worker is up, every share must reach it, however many workers are silent"
                ) from None
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=50, budget=150)
async def test_lost_messages_are_recovered(run: LabRun) -> None:
    """With 20% of messages lost, every sum is still exact (the client asks again if need be)."""
    async with sum_cluster(run, drop=0.2, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        for _ in range(5):
            await ask(client, cluster, random_numbers(run, 45), attempts=20)
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=40, budget=150)
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


@graded(points=3, seeds=50, budget=150)
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


@graded(points=2, seeds=40, budget=150)
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


@graded(points=2, seeds=30, budget=150)
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


# -- late answers, restarts, zombies ---------------------------------------------------------


@graded(points=2, seeds=30, budget=150)
async def test_workers_slower_than_the_timeout(run: LabRun) -> None:
    """Every worker answers later than the timeout: the master uses the late answers, in time."""
    async with sum_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        schedule = run.schedule(cluster)
        for worker in workers(cluster):  # they hear on time, and answer late
            await schedule.fire(faults.slow_node(worker, delay=LATE, jitter=0.03, way="out"))
        try:
            for _ in range(4):
                await ask(client, cluster, random_numbers(run, 30))
            latency_percentile(run.history, percentile=100, at_most=DEADLINE, f="sum")
            check_job_ids_never_repeat(cluster, run.history)
        except CheckFailed as error:
            raise CheckFailed(
                f"{with_faults(error, schedule)}. Every worker answered {LATE:g} s after it was "
                f"asked, longer than three of the master's timeouts "
                f"({cluster.config['timeout']:g} s): the master must compute a job's shares "
                "at the same time, keep asking round and round until each share is counted, and "
                "count the first answers, even from workers it gave up on"
            ) from None
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=30, budget=150)
async def test_a_zombie_workers_answers_are_ignored(run: LabRun) -> None:
    """Three clients ask at once; a worker freezes, is given up on, and wakes up to answer jobs
    long answered: every sum exact, every share counted once."""
    async with sum_cluster(run, delay=0.01, jitter=0.008) as cluster:
        clients = [await run.client(cluster, name=f"client-{i}") for i in (1, 2, 3)]
        schedule = run.schedule(cluster)
        # It freezes with the first jobs' shares unanswered, past the master's timeout.
        schedule.at(0.005, faults.zombie(faults.random_node("worker"), seconds=0.4))
        asking_until = 0.5  # the clients still ask when the zombie's answers arrive

        async def ask_until_done(client: Client) -> None:
            while cluster.now() < asking_until:
                await ask(client, cluster, random_numbers(run, run.random.randint(10, 40)))

        async with schedule.running():
            try:
                async with trio.open_nursery() as nursery:
                    for client in clients:
                        nursery.start_soon(ask_until_done, client)
                latency_percentile(run.history, percentile=100, at_most=DEADLINE, f="sum")
                check_job_ids_never_repeat(cluster, run.history)
            except* CheckFailed as errors:
                raise with_faults(first_failure(errors), schedule) from None
        check_each_share_counted_once(cluster)
        no_crashes(cluster.trace.events)


@graded(points=2, seeds=30, budget=150)
async def test_a_restarted_master_never_reuses_a_job_id(run: LabRun) -> None:
    """The master crashes right after an answer, mid-job, and restarts while a slow answer is on
    its way: each client that asks (again) gets the exact sum, and no job id is given twice."""
    async with sum_cluster(run, delay=0.005, jitter=0.004) as cluster:
        first, second, third = [await run.client(cluster, name=f"client-{i}") for i in (1, 2, 3)]
        slow = run.random.choice(workers(cluster))
        schedule = run.schedule(cluster)
        # client-1's job waits for the slow worker until the master's timeout, gets its answer
        # from another worker at about t=0.27 s, and the master crashes right after telling
        # client-1, with client-2's job running. The slow worker's answer to client-1's job is
        # still on its way: it arrives at about t=0.51 s, at the restarted master.
        await schedule.fire(faults.slow_link(slow, "master", delay=0.5))
        await schedule.fire(faults.crash_after("master", "sum_ok"))
        schedule.at(0.3, faults.restart("master"))

        async def ask_at(at: float, client: Client, **retries: Any) -> None:
            await trio.sleep(max(0.0, at - cluster.now()))
            await ask(client, cluster, random_numbers(run, 30), **retries)

        async with schedule.running():
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(ask_at, 0.0, first)
                    # Its job dies with the master: it asks again 0.5 s later.
                    nursery.start_soon(partial(ask_at, 0.1, second, attempts=3, timeout=0.5))
                    nursery.start_soon(ask_at, 0.35, third)  # once the master is back
                check_job_ids_never_repeat(cluster, run.history)
            except* CheckFailed as errors:
                crashes = [e.t for e in cluster.trace.of_kind("crash") if e["node"] == "master"]
                crashed = ", ".join(f"t={t:.3f} s" for t in crashes) or "never"
                raise CheckFailed(
                    f"{with_faults(first_failure(errors), schedule)}. The master crashed at "
                    f"{crashed}; the answer {slow} sent to its crashed incarnation reaches the "
                    "restarted master, which must not count it in a new job: give each job an id "
                    "never used before, even by an earlier incarnation (keep the count in "
                    "self.storage, before the id is used)"
                ) from None
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


@graded(points=1, seeds=30, budget=150, visibility="hidden")
async def test_few_messages_per_job_on_a_healthy_network(run: LabRun) -> None:
    """Without faults, a job costs one request, one answer, and one message each way per share."""
    async with sum_cluster(run, delay=0.002, jitter=0.001) as cluster:
        client = await run.client(cluster)
        for _ in range(5):
            await ask(client, cluster, random_numbers(run, 40))
        messages_per_operation(
            cluster.trace.events, run.history, at_most=2 + 2 * len(workers(cluster))
        )
