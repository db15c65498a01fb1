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
from collections.abc import Mapping
from typing import Any

from distlab import Cluster, TraceEvent
from grading import (
    CheckFailed,
    LabRun,
    crashed_by_itself,
    expect_equal,
    first_event,
    graded,
    no_crashes,
)

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


@graded(points=3, seeds=100, budget=150)
async def test_part_a_two_load_balancers_count_exactly(run: LabRun) -> None:
    """Part A: through the map LB and the reduce LB, every job's word count is exact."""
    await counts_exactly(run, "double")


@graded(points=2, seeds=100, budget=150)
async def test_part_b_one_master_counts_exactly(run: LabRun) -> None:
    """Part B: through the single master, every job's word count is exact."""
    await counts_exactly(run, "single")


def check_reducers_chosen_late(cluster: Cluster, mode: str) -> None:
    """Each job's reducer is chosen, by the node that got a completion signal, after it got one."""
    sent = bodies(cluster)
    first_signal: dict[tuple[str, str], TraceEvent] = {}  # (node, job) -> first map_done there
    for e in cluster.trace.of_kind("deliver"):
        body = sent.get(e["mid"], {})
        if body.get("type") == "map_done":
            first_signal.setdefault((e["dest"], str(body.get("job"))), e)
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


@graded(points=3, seeds=100, budget=150)
async def test_the_reducer_is_chosen_only_after_a_map_completes(run: LabRun) -> None:
    """No job's reducer is chosen before the first completion signal of that job arrives."""
    documents, mode = make_documents(run), mode_for(run)
    config = job_config(mode, documents)
    async with run.cluster(config=config, delay=0.005, jitter=0.004) as cluster:
        await wait_for_results(cluster, 20)
    check_reducers_chosen_late(cluster, mode)
    check_exact(cluster, documents, mode)


@graded(points=2, seeds=100, budget=200)
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


@graded(points=3, seeds=100, budget=150)
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


@graded(points=3, seeds=100, budget=150)
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


@graded(points=1, seeds=100, budget=150)
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


@graded(points=2, seeds=100, budget=200)
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


@graded(points=1, seeds=3, budget=45, runtime="live")
async def test_on_real_sockets(run: LabRun) -> None:
    """On real sockets and real time, a job's word count is exact (both designs across seeds)."""
    documents, mode = make_documents(run), mode_for(run)
    async with run.cluster(config=job_config(mode, documents)) as cluster:
        await wait_for_results(cluster, 10)
    no_crashes(cluster.trace.events)
    check_exact(cluster, documents, mode)
