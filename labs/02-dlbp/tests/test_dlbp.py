"""Lab 2's graded tests.

Every test starts the lab's cluster (``run.cluster``) with its own documents, drawn from the
seed, and lets the lab's client (client.py) submit the jobs. What the tests check, they read from
the trace: the ``job_done`` messages the client received, the ``map`` requests, the completion
signals (``map_done``), and what the nodes published with ``status()``.

Where a test does not say which design it grades, odd seeds run Part A (``mode = "double"``: two
load balancers) and even seeds Part B (``mode = "single"``: one master): failures must be handled
in both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import trio

from distlab import Cluster, TraceEvent
from distlab.grading import (
    CheckFailed,
    LabRun,
    crashed_by_itself,
    expect_equal,
    faults,
    first_event,
    graded,
    no_crashes,
)
from distlab.grading.faults import FaultSchedule

#: The words the tests' documents are made of.
VOCABULARY = (
    *("split", "merge", "map", "reduce", "node", "load", "balancer", "signal", "fail", "recover"),
    *("keep", "context", "master", "worker", "job", "count", "word", "late", "choice"),
)

#: What each mode is called in failure messages.
DESIGN = {"double": "Part A, two load balancers", "single": "Part B, one master"}


# -- the workload ---------------------------------------------------------------------------------


def make_documents(run: LabRun, count: int = 12, words: tuple[int, int] = (10, 40)) -> list[str]:
    """``count`` documents of random words from VOCABULARY, drawn from the seed."""
    return [
        " ".join(run.random.choice(VOCABULARY) for _ in range(run.random.randint(*words)))
        for _ in range(count)
    ]


def expected_counts(documents: list[str]) -> dict[str, int]:
    """The exact word count, computed here and not by the code under test."""
    return dict(Counter(word for document in documents for word in document.lower().split()))


def mode_for(run: LabRun) -> str:
    """Odd seeds grade Part A, even seeds Part B."""
    return "double" if run.seed % 2 else "single"


def job_config(mode: str, documents: list[str], *, jobs: int = 1, **more: Any) -> dict[str, Any]:
    return {"mode": mode, "documents": documents, "jobs": jobs, "pause": 0.05, **more}


# -- reading the trace ----------------------------------------------------------------------------


def bodies(cluster: Cluster) -> dict[str, Mapping[str, Any]]:
    """Every message's body, by its ``mid``."""
    return {e["mid"]: e["body"] for e in cluster.trace.of_kind("send")}


def results_received(cluster: Cluster) -> dict[str, Any]:
    """The counts the client received for each job: the first ``job_done`` delivered to it."""
    sent = bodies(cluster)
    results: dict[str, Any] = {}
    for e in cluster.trace.of_kind("deliver"):
        body = sent.get(e["mid"], {})
        if e["dest"] == "client" and body.get("type") == "job_done":
            results.setdefault(str(body.get("job")), body.get("counts"))
    return results


def published(cluster: Cluster, field: str) -> list[TraceEvent]:
    """The status events that publish ``field``, in order."""
    return [e for e in cluster.trace.of_kind("status") if field in e["fields"]]


def about(value: Any, job: str) -> bool:
    """Whether a published value (a dict with a "job" key) is about ``job``."""
    return isinstance(value, Mapping) and value.get("job") == job


def crash_words(cluster: Cluster) -> str:
    """Every crash of the run, in a sentence: who, when, and why."""
    crashes = []
    for e in cluster.trace.of_kind("crash"):
        reason = str(e.get("reason", "?")).splitlines()[0]
        if not crashed_by_itself(e):
            reason = "crashed by the test"
        crashes.append(f"{e['node']} at t={e.t:.3f} s: {reason}")
    return f" Crashes: {'; '.join(crashes)}." if crashes else ""


def sends_of(cluster: Cluster, kind: str, job: str) -> list[TraceEvent]:
    """The messages of type ``kind`` about ``job`` that were sent, in order."""
    return [
        e
        for e in cluster.trace.of_kind("send")
        if e["body"].get("type") == kind and e["body"].get("job") == job
    ]


def acceptance_story(cluster: Cluster, job: str) -> list[str]:
    accepted = [e for e in published(cluster, "accepted") if e["fields"]["accepted"] == job]
    if accepted:
        return [f"{accepted[0]['node']} accepted it at t={accepted[0].t:.3f} s"]
    entry = cluster.status_of("client").get("submitted", {}).get(job, "the entry node")
    return [f"{entry} never published accepted={job!r}"]


def map_story(cluster: Cluster, job: str) -> list[str]:
    maps = sends_of(cluster, "map", job)
    if not maps:
        return ["no map request was ever sent for it"]
    counts = [e["body"].get("splits") for e in maps if isinstance(e["body"].get("splits"), int)]
    splits = max(counts, default=None)
    said = [f"{len(maps)} map requests were sent for its {splits or '?'} splits"]
    if splits is None:
        return said
    mapped = {
        e["fields"]["mapped"].get("split")
        for e in published(cluster, "mapped")
        if about(e["fields"]["mapped"], job)
    }
    never = [split for split in range(splits) if split not in mapped]
    if not never:
        return [*said, "every split was mapped"]
    last_sent = {e["body"].get("split"): e for e in maps}
    where = [
        f"split {split} (last sent to {last_sent[split]['dest']} at t={last_sent[split].t:.3f} s)"
        if split in last_sent
        else f"split {split} (never sent)"
        for split in never
    ]
    return [*said, "never mapped: " + ", ".join(where)]


def reduce_story(cluster: Cluster, job: str) -> list[str]:
    said = []
    for e in published(cluster, "reducer_chosen"):
        if about(e["fields"]["reducer_chosen"], job):
            chosen = e["fields"]["reducer_chosen"].get("node")
            said.append(f"{e['node']} chose {chosen} to reduce it at t={e.t:.3f} s")
    holding: dict[str, Mapping[str, Any]] = {}  # each worker's last word on what it holds
    for e in published(cluster, "reducing"):
        if about(e["fields"]["reducing"], job):
            holding[str(e["node"])] = e["fields"]["reducing"]
    for node, reducing in holding.items():
        said.append(
            f"{node} last said it held {reducing.get('have')} of its {reducing.get('of')} outputs"
        )
    done = sends_of(cluster, "job_done", job)
    if done:
        said.append(f"{done[0]['src']} first sent its result to the client at t={done[0].t:.3f} s")
    else:
        said.append("nobody ever sent its result (job_done) to the client")
    return said


def story(cluster: Cluster, job: str) -> str:
    """What happened to ``job``, in a few plain sentences, for failure messages."""
    said = [
        *acceptance_story(cluster, job),
        *map_story(cluster, job),
        *reduce_story(cluster, job),
    ]
    return f"What happened to {job}: " + "; ".join(said) + "." + crash_words(cluster)


# -- waiting, and checking -----------------------------------------------------------------------


async def wait_for_results(cluster: Cluster, seconds: float) -> None:
    """Wait until the client has every result; fail, telling the job's story, if not soon."""
    done = await first_event(
        cluster,
        lambda e: e.kind == "status" and e["node"] == "client" and e["fields"].get("done") is True,
        seconds=seconds,
    )
    if done is not None:
        return
    wanted = cluster.config["jobs"]
    got = results_received(cluster)
    missing = [f"j{n}" for n in range(1, wanted + 1) if f"j{n}" not in got]
    raise CheckFailed(
        f"The client had {len(got)} of its {wanted} results after {seconds:g} s "
        f"(at t={cluster.now():.3f} s). {story(cluster, missing[0] if missing else 'j1')}"
    )


def check_exact(cluster: Cluster, documents: list[str], mode: str) -> None:
    """Every job's result, as the client received it, is the exact word count."""
    expected = expected_counts(documents)
    got = results_received(cluster)
    for n in range(1, cluster.config["jobs"] + 1):
        job = f"j{n}"
        expect_equal(
            got.get(job),
            expected,
            what=f"the word counts the client got for {job} ({DESIGN[mode]})",
        )


def messages_per_job(cluster: Cluster) -> float:
    jobs: int = cluster.config["jobs"]
    return sum(1 for e in cluster.trace.of_kind("send") if "job" in e["body"]) / jobs


def mean_latency(cluster: Cluster) -> float:
    latencies: dict[str, float] = cluster.status_of("client").get("latencies", {})
    return sum(latencies.values()) / len(latencies) if latencies else float("nan")


# -- Parts A and B: the two designs ---------------------------------------------------------------


async def counts_exactly(run: LabRun, mode: str) -> None:
    """Two jobs through the design of ``mode``, on a healthy network: each count exact."""
    documents = make_documents(run)
    config = job_config(mode, documents, jobs=2)
    async with run.cluster(config=config, delay=0.005, jitter=0.004) as cluster:
        await wait_for_results(cluster, 20)
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, mode)


@graded(points=3, seeds=20, budget=150)
async def test_part_a_two_load_balancers_count_exactly(run: LabRun) -> None:
    """Part A: through the map LB and the reduce LB, every job's word count is exact."""
    await counts_exactly(run, "double")


@graded(points=2, seeds=20, budget=150)
async def test_part_b_one_master_counts_exactly(run: LabRun) -> None:
    """Part B: through the single master, every job's word count is exact."""
    await counts_exactly(run, "single")


def check_reducers_chosen_late(cluster: Cluster, mode: str) -> None:
    """Each job's reducer is chosen, by the node that got a completion signal, after it got one;
    the first choice is the worker whose signal came first (it has just proven it is alive)."""
    sent = bodies(cluster)
    signals: dict[tuple[str, str], list[TraceEvent]] = {}  # (node, job) -> map_done there
    for e in cluster.trace.of_kind("deliver"):
        body = sent.get(e["mid"], {})
        if body.get("type") == "map_done":
            signals.setdefault((e["dest"], str(body.get("job"))), []).append(e)
    first_signal = {key: delivered[0] for key, delivered in signals.items()}
    chosen = published(cluster, "reducer_chosen")
    for n in range(1, cluster.config["jobs"] + 1):
        job = f"j{n}"
        choices = [e for e in chosen if about(e["fields"]["reducer_chosen"], job)]
        if not choices:
            raise CheckFailed(
                f"no node published a reducer_chosen for {job} ({DESIGN[mode]}): when the reduce "
                f"side chooses a reducer it must say so, with "
                f"status(reducer_chosen={{'job': {job!r}, 'node': <the reducer>}}). "
                + story(cluster, job)
            )
        first_choice = choices[0]
        trigger = first_signal.get((str(first_choice["node"]), job))
        # Whoever signalled before the choice was made: signals that arrive at the same instant
        # may be handled in either order.
        signalled = {
            str(e["src"])
            for e in signals.get((str(first_choice["node"]), job), [])
            if e.seq < first_choice.seq
        }
        chosen = first_choice["fields"]["reducer_chosen"].get("node")
        if trigger is not None and signalled and chosen not in signalled:
            raise CheckFailed(
                f"{first_choice['node']} chose {chosen} to reduce {job} at "
                f"t={first_choice.t:.3f} s ({DESIGN[mode]}), on the first completion signal, "
                f"which came from {trigger['src']} at t={trigger.t:.3f} s; {chosen} had sent "
                f"none yet. The delayed choice prefers the worker that has just finished: it is "
                f"alive and free right now, which is what choosing late is for."
            )
        for e in choices:
            signal = first_signal.get((str(e["node"]), job))
            if signal is None or signal.seq > e.seq:
                when = (
                    f"the first completion signal (map_done) of {job} reached {e['node']} only "
                    f"at t={signal.t:.3f} s"
                    if signal is not None
                    else f"no completion signal (map_done) of {job} had reached {e['node']} yet"
                )
                raise CheckFailed(
                    f"{e['node']} chose {e['fields']['reducer_chosen'].get('node')} to reduce "
                    f"{job} at t={e.t:.3f} s ({DESIGN[mode]}), before any map of {job} had "
                    f"completed: {when}. The pattern's point is the delayed choice: pick the "
                    "reducer when the first map completes, not when the job arrives."
                )


@graded(points=3, seeds=30, budget=150)
async def test_the_reducer_is_chosen_only_after_a_map_completes(run: LabRun) -> None:
    """A job's reducer is chosen at its first completion signal, among the workers that sent one."""
    documents, mode = make_documents(run), mode_for(run)
    config = job_config(mode, documents)
    async with run.cluster(config=config, delay=0.005, jitter=0.004) as cluster:
        await wait_for_results(cluster, 20)
    check_reducers_chosen_late(cluster, mode)
    check_exact(cluster, documents, mode)


@graded(points=2, seeds=15, budget=200)
async def test_compare_two_load_balancers_with_one_master(run: LabRun) -> None:
    """The same jobs through both designs: both exact; messages and latency of each reported."""
    documents = make_documents(run)
    figures: dict[str, str] = {}
    clusters: dict[str, Cluster] = {}
    for mode in ("double", "single"):
        async with run.cluster(config=job_config(mode, documents, jobs=2), delay=0.005) as cluster:
            clusters[mode] = cluster
            try:
                await wait_for_results(cluster, 20)
            finally:
                figures[mode] = (
                    f"{DESIGN[mode]}: {messages_per_job(cluster):.1f} messages and "
                    f"{mean_latency(cluster) * 1000:.0f} ms per job"
                )
    comparison = "; ".join(figures.values())
    for mode, cluster in clusters.items():
        try:
            check_exact(cluster, documents, mode)
        except CheckFailed as exc:
            raise CheckFailed(f"{exc} (the comparison so far: {comparison})") from None
    print(f"seed {run.seed}: {comparison}")


# -- Part C: failures ----------------------------------------------------------------------------


@graded(points=3, seeds=20, budget=150)
async def test_a_crashed_mappers_splits_are_reassigned(run: LabRun) -> None:
    """A worker crashes while it maps; its splits go to other workers; the counts stay exact."""
    documents, mode = make_documents(run), mode_for(run)
    async with run.cluster(
        config=job_config(mode, documents), delay=0.005, jitter=0.004
    ) as cluster:
        busy = await first_event(
            cluster,
            lambda e: e.kind == "status" and (e["fields"].get("mapping") or 0) > 0,
            seconds=5,
        )
        if busy is None:
            raise CheckFailed(
                "no worker published mapping > 0 within 5 s: a worker says how many splits it is "
                "mapping (status(mapping=n)), so that the test can crash a busy one. "
                + story(cluster, "j1")
            )
        victim = str(busy["node"])
        await cluster.crash(victim)  # for good: it does not come back
        crashed_at = cluster.now()
        try:
            await wait_for_results(cluster, 30)
        except CheckFailed as exc:
            raise CheckFailed(
                f"{victim} crashed at t={crashed_at:.3f} s while mapping ({DESIGN[mode]}), and "
                f"never came back. {exc}"
            ) from None
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, mode)


@graded(points=3, seeds=20, budget=150)
async def test_a_crashed_reducer_is_replaced_and_fed_again(run: LabRun) -> None:
    """The reducer crashes holding outputs; another is chosen, sent every output; still exact."""
    mode = mode_for(run)
    # One document per split, each of a different length: the splits finish one after another,
    # so the reducer holds some outputs, and not all, when it crashes.
    lengths = run.random.sample(range(10, 40), 4)
    documents = [make_documents(run, 1, (n, n))[0] for n in lengths]
    config = job_config(mode, documents, splits=4)
    async with run.cluster(config=config, delay=0.005) as cluster:
        ack = await first_event(
            cluster,
            lambda e: e.kind == "send" and e["body"].get("type") == "reduce_input_ok",
            seconds=5,
        )
        if ack is None:
            raise CheckFailed(
                "no worker acknowledged a map output (reduce_input_ok) within 5 s, so there was "
                "no reducer to crash. " + story(cluster, "j1")
            )
        victim = str(ack["src"])
        if "j1" in results_received(cluster):
            return  # the job finished before the crash could matter: nothing to grade here
        await cluster.crash(victim)  # for good: it does not come back
        crashed_at = cluster.now()
        try:
            await wait_for_results(cluster, 30)
        except CheckFailed as exc:
            raise CheckFailed(
                f"the reducer {victim} crashed at t={crashed_at:.3f} s ({DESIGN[mode]}), holding "
                f"at least one map output, and never came back. {exc}"
            ) from None
    later = [
        e
        for e in published(cluster, "reducer_chosen")
        if e.t >= crashed_at and about(e["fields"]["reducer_chosen"], "j1")
    ]
    if not any(e["fields"]["reducer_chosen"].get("node") != victim for e in later):
        raise CheckFailed(
            f"the reducer {victim} crashed at t={crashed_at:.3f} s ({DESIGN[mode]}), yet no other "
            "reducer was chosen for j1 afterwards (publish reducer_chosen when you choose again)"
        )
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, mode)


@graded(points=1, seeds=20, budget=150)
async def test_work_is_spread_across_the_mappers(run: LabRun) -> None:
    """On a healthy network no worker is sent more than its fair share of a job's splits."""
    documents, mode = make_documents(run), mode_for(run)
    async with run.cluster(config=job_config(mode, documents), delay=0.005) as cluster:
        await wait_for_results(cluster, 20)
    workers = [n for n in cluster.names if n.startswith("worker")]
    maps = [e for e in cluster.trace.of_kind("send") if e["body"].get("type") == "map"]
    for n in range(1, cluster.config["jobs"] + 1):
        job = f"j{n}"
        sent = Counter(str(e["dest"]) for e in maps if e["body"].get("job") == job)
        splits = sum(sent.values())
        fair = -(-splits // len(workers))  # splits / workers, rounded up
        for worker, count in sent.most_common(1):
            if count > fair:
                raise CheckFailed(
                    f"{worker} was sent {count} of the {splits} splits of {job} "
                    f"({DESIGN[mode]}), on a network that lost nothing; with {len(workers)} "
                    f"workers its fair share is at most {fair}. Spread the splits (round robin). "
                    f"Map requests per worker: "
                    + ", ".join(f"{w} {sent.get(w, 0)}" for w in workers)
                )
    check_exact(cluster, documents, mode)


@graded(points=2, seeds=20, budget=200)
async def test_lost_messages_do_not_change_the_counts(run: LabRun) -> None:
    """With 10% of messages lost, every job still finishes, with the exact word count."""
    documents, mode = make_documents(run), mode_for(run)
    config = job_config(mode, documents)
    async with run.cluster(config=config, drop=0.1, delay=0.005, jitter=0.004) as cluster:
        try:
            await wait_for_results(cluster, 60)
        except CheckFailed as exc:
            raise CheckFailed(f"with 10% of messages lost ({DESIGN[mode]}): {exc}") from None
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, mode)


@graded(points=1, seeds=3, budget=90, runtime="live")
async def test_on_real_sockets(run: LabRun) -> None:
    """On real sockets and real time, a job's word count is exact (both designs across seeds)."""
    documents, mode = make_documents(run), mode_for(run)
    async with run.cluster(config=job_config(mode, documents)) as cluster:
        await wait_for_results(cluster, 10)
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, mode)


# -- Part C, the faults students' code meets in the wild -----------------------------------------
# Restarts of the node that keeps state (the reducer), crashes between two steps whose order the
# README fixes, links slower than the timeouts, a replaced reducer that wakes up, several clients.


async def first_reducer(cluster: Cluster, job: str = "j1") -> str:
    """The first worker chosen to reduce ``job``, once the reduce side has published it."""
    chosen = await first_event(
        cluster,
        lambda e: e.kind == "status" and about(e["fields"].get("reducer_chosen"), job),
        seconds=5,
    )
    if chosen is None:
        raise CheckFailed(
            f"no reducer was chosen for {job} (status reducer_chosen) within 5 s. "
            + story(cluster, job)
        )
    return str(chosen["fields"]["reducer_chosen"]["node"])


def fault_log(schedule: FaultSchedule) -> str:
    """What the test did to the cluster, as a sentence for failure messages."""
    return "What the test did: " + "; ".join(schedule.describe_log()) + "."


def patience(config: Mapping[str, Any]) -> float:
    """How long the reduce side waits on a silent reducer before it replaces it."""
    return float(config["attempts"] * config["timeout"])


@graded(points=3, seeds=20, budget=120)
async def test_a_restarted_reducer_still_has_what_it_acknowledged(run: LabRun) -> None:
    """The reducer crashes right after an acknowledgement and comes back: it lost nothing."""
    documents, mode = make_documents(run), mode_for(run)
    config = job_config(mode, documents)
    async with run.cluster(config=config, delay=0.005, jitter=0.004) as cluster:
        schedule = run.schedule(cluster)
        async with schedule.running():
            reducer = await first_reducer(cluster)
            # The crash comes between the acknowledgement and whatever the reducer does next: an
            # output it acknowledged must already be in its storage.
            nth = run.random.randint(1, 3)
            await schedule.fire(faults.crash_after(reducer, "reduce_input_ok", nth=nth))
            crash = await first_event(
                cluster, lambda e: e.kind == "crash" and e["node"] == reducer, seconds=5
            )
            if crash is None:
                return  # the job was whole before the crash point: nothing to grade here
            # Back well before the reduce side's patience runs out: it is not replaced, so it
            # must finish the job with what it kept.
            await trio.sleep(run.random.uniform(0.05, 0.5))
            await schedule.fire(faults.restart(reducer))
            try:
                await wait_for_results(cluster, 20)
            except CheckFailed as exc:
                raise CheckFailed(
                    f"the reducer {reducer} ({DESIGN[mode]}) crashed at t={crash.t:.3f} s right "
                    f"after its acknowledgement number {nth} (reduce_input_ok), and came back "
                    f"soon after. An acknowledged output is a promise: the reduce side does not "
                    f"send it again, so the reducer must have kept it in storage before it "
                    f"answered. {fault_log(schedule)} {exc}"
                ) from None
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, mode)


@graded(points=2, seeds=20, budget=90)
async def test_a_mapper_crashing_between_its_two_messages_loses_nothing(run: LabRun) -> None:
    """Part A: a mapper crashes right after its map_ok; the split's output is already safe."""
    documents = make_documents(run)
    config = job_config("double", documents)
    async with run.cluster(config=config, delay=0.005, jitter=0.004) as cluster:
        schedule = run.schedule(cluster)
        async with schedule.running():
            busy = await first_event(
                cluster,
                lambda e: e.kind == "status" and (e["fields"].get("mapping") or 0) > 0,
                seconds=5,
            )
            if busy is None:
                raise CheckFailed(
                    "no worker published mapping > 0 within 5 s: a worker says how many splits "
                    "it is mapping (status(mapping=n)). " + story(cluster, "j1")
                )
            mapper = str(busy["node"])
            # The README's order: the completion signal is confirmed by the reduce LB first,
            # and only then does the map LB hear map_ok. A crash right after map_ok must lose
            # nothing, because the map LB will never give that split to anyone else.
            await schedule.fire(faults.crash_after(mapper, "map_ok"))
            crash = await first_event(
                cluster, lambda e: e.kind == "crash" and e["node"] == mapper, seconds=5
            )
            if crash is not None:
                await trio.sleep(run.random.uniform(0.05, 0.5))
                await schedule.fire(faults.restart(mapper))  # a mapper keeps nothing: all is well
            try:
                await wait_for_results(cluster, 20)
            except CheckFailed as exc:
                raise CheckFailed(
                    f"the mapper {mapper} ({DESIGN['double']}) crashed right after it sent a "
                    f"map_ok. The map LB now takes that split as done and never sends it again, "
                    f"so its output must already have been confirmed by the reduce LB "
                    f"(map_done, then map_done_ok, then map_ok). {fault_log(schedule)} {exc}"
                ) from None
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, "double")


@graded(points=2, seeds=20, budget=90)
async def test_late_acknowledgements_do_not_count_twice(run: LabRun) -> None:
    """The reducer answers later than the timeout for a while: each resent output counts once."""
    documents, mode = make_documents(run), mode_for(run)
    config = job_config(mode, documents)
    timeout: float = run.config["timeout"]
    slow = 1.6 * timeout  # past the timeout: every answer comes too late
    async with run.cluster(config=config, delay=0.005, jitter=0.004) as cluster:
        schedule = run.schedule(cluster)
        async with schedule.running():
            reducer = await first_reducer(cluster)
            await schedule.fire(faults.slow_node(reducer, delay=slow, way="out"))
            # Slow for less than the reduce side's patience: the reducer is not replaced, it is
            # sent the same outputs again, and must keep each one once.
            await trio.sleep(0.4 * patience(run.config))
            await schedule.fire(faults.slow_node(reducer, delay=0.005, jitter=0.004, way="out"))
            try:
                await wait_for_results(cluster, 20)
            except CheckFailed as exc:
                raise CheckFailed(f"({DESIGN[mode]}) {fault_log(schedule)} {exc}") from None
    no_crashes(cluster.trace.events)
    try:
        check_exact(cluster, documents, mode)
    except CheckFailed as exc:
        inputs = sends_of(cluster, "reduce_input", "j1")
        splits = len({e["body"].get("split") for e in inputs})
        raise CheckFailed(
            f"{exc} The reducer {reducer}'s answers took {slow:g} s for a while, longer than "
            f"the {timeout:g} s timeout, so the reduce side sent outputs again "
            f"({len(inputs)} reduce_input messages for {splits} splits): an output that "
            f"arrives twice must count once. {fault_log(schedule)}"
        ) from None


@graded(points=2, seeds=20, budget=120)
async def test_a_replaced_reducer_that_wakes_up_changes_nothing(run: LabRun) -> None:
    """The reducer freezes until it is replaced, then wakes and answers: that changes nothing.

    The reduce side must ignore the answers of a reducer that is no longer the job's: the new
    reducer gets every output.
    """
    documents, mode = make_documents(run), mode_for(run)
    config = job_config(mode, documents)
    async with run.cluster(config=config, delay=0.005, jitter=0.004) as cluster:
        schedule = run.schedule(cluster)
        async with schedule.running():
            reducer = await first_reducer(cluster)
            # It wakes just after the reduce side gave up on it, while some deliveries still
            # wait for its answer: those answers come from a reducer that is no longer the job's.
            frozen = patience(run.config) + run.random.uniform(0.01, 0.06)
            await schedule.fire(faults.pause(reducer))
            await trio.sleep(frozen)
            await schedule.fire(faults.resume(reducer))
            try:
                await wait_for_results(cluster, 20)
            except CheckFailed as exc:
                raise CheckFailed(
                    f"the reducer {reducer} ({DESIGN[mode]}) froze for {frozen:.3f} s, long "
                    f"enough to be replaced, then woke up and answered the requests it had "
                    f"queued. An answer from a reducer that is no longer the job's says nothing "
                    f"about what the new reducer holds. {fault_log(schedule)} {exc}"
                ) from None
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, mode)


def results_by_client(cluster: Cluster) -> dict[tuple[str, str], Any]:
    """The counts each client received for each job: the first ``job_done`` delivered to it."""
    sent = bodies(cluster)
    results: dict[tuple[str, str], Any] = {}
    for e in cluster.trace.of_kind("deliver"):
        body = sent.get(e["mid"], {})
        if body.get("type") == "job_done":
            results.setdefault((str(e["dest"]), str(body.get("job"))), body.get("counts"))
    return results


def said_done(client: str) -> Callable[[TraceEvent], bool]:
    """A predicate: ``client`` published that it has every result it waited for."""
    return lambda e: e.kind == "status" and e["node"] == client and e["fields"].get("done") is True


@graded(points=2, seeds=20, budget=120)
async def test_concurrent_clients_with_a_crashed_worker(run: LabRun) -> None:
    """Four clients submit at once while a worker crashes and comes back: every count exact."""
    documents, mode = make_documents(run), mode_for(run)
    clients = [f"client-{i}" for i in (1, 2, 3, 4)]
    config = job_config(mode, documents, jobs=1)
    async with run.cluster(
        config=config, counts={"client": len(clients)}, delay=0.005, jitter=0.004
    ) as cluster:
        schedule = run.schedule(cluster)
        crash_at = run.random.uniform(0.02, 0.3)  # while the first jobs are being mapped
        schedule.at(crash_at, faults.crash(faults.random_node("worker")))
        schedule.at(
            crash_at + run.random.uniform(0.3, 1.0),
            faults.restart(faults.random_node("worker", state="crashed")),
        )
        async with schedule.running():
            for client in clients:
                done = await first_event(cluster, said_done(client), seconds=30)
                if done is None:
                    raise CheckFailed(
                        f"{client} had no result for {client}.j1 after 30 s ({DESIGN[mode]}; "
                        f"four clients submitting at once). {fault_log(schedule)} "
                        + story(cluster, f"{client}.j1")
                    )
    no_crashes(cluster.trace.events)
    expected = expected_counts(documents)
    got = results_by_client(cluster)
    for client in clients:
        for n in range(1, cluster.config["jobs"] + 1):
            job = f"{client}.j{n}"
            expect_equal(
                got.get((client, job)),
                expected,
                what=f"the word counts {client} got for {job} ({DESIGN[mode]}, four clients "
                f"at once; {fault_log(schedule)})",
            )


@graded(points=1, seeds=20, budget=90)
async def test_a_resubmitted_job_is_started_once(run: LabRun) -> None:
    """The client hears its job_ok late and submits again: the job is still started once."""
    documents, mode = make_documents(run), mode_for(run)
    entry = {"double": "map_lb", "single": "master"}[mode]
    late = 1.6 * float(run.config["timeout"])  # past the client's timeout: it submits again
    async with run.cluster(
        config=job_config(mode, documents, jobs=2), delay=0.005, jitter=0.004
    ) as cluster:
        schedule = run.schedule(cluster)
        # The client hears everything late for a while (its own messages go out on time).
        schedule.at(0.0, faults.slow_node("client", delay=late, way="in"))
        schedule.at(0.6, faults.slow_node("client", delay=0.005, jitter=0.004, way="in"))
        async with schedule.running():
            await wait_for_results(cluster, 20)
    for n in range(1, cluster.config["jobs"] + 1):
        job = f"j{n}"
        submissions = len(sends_of(cluster, "job", job))
        maps = Counter(e["body"].get("split") for e in sends_of(cluster, "map", job))
        again = sorted(split for split, count in maps.items() if count > 1)
        if again:
            raise CheckFailed(
                f"{entry} ({DESIGN[mode]}) sent {sum(maps.values())} map requests for the "
                f"{len(maps)} splits of {job} (splits {again} more than once), on a network "
                f"where no worker was slow or lost anything. The client submitted {job} "
                f"{submissions} times because {entry}'s job_ok took {late:g} s to reach it: a "
                f"repeated submission with a known job id must only be confirmed again, not "
                f"start the job again. {fault_log(schedule)}"
            )
    check_exact(cluster, documents, mode)
