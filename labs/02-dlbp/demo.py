"""Lab 2's demo scenario: both designs count the same documents, and workers fail under them.

With the lab's ``mode = "both"``, odd jobs go to Part A's map load balancer and even jobs to
Part B's master. The first two jobs run on a healthy cluster: they give the figures that compare
the two designs. Each later job meets one failure of Part C:

- ``j3`` (Part A): a mapper crashes right after it confirms a split (``map_ok``), and comes back;
- ``j4`` (Part B): the reducer crashes right after it acknowledges an output, and comes back;
- ``j5`` (Part A): a mapper crashes while it maps, and stays down until the job is over;
- ``j6`` (Part B): the reducer crashes holding outputs, and stays down until the end.

The scenario passes when every job's result is the exact word count, every job's reducer was
chosen at its first completion signal (and was the worker that sent it), and the healthy jobs'
splits were spread over the workers. Otherwise it says which job went wrong, and how.
"""

from collections import Counter
from collections.abc import Callable

import trio

from distlab import Cluster, ScenarioResult, TraceEvent

#: Which design a job's entry node belongs to.
DESIGN = {"map_lb": "double LB", "master": "single master"}

#: The jobs that run on a healthy cluster (the comparison), and the failure each later job meets.
HEALTHY = ("j1", "j2")
FAILURES = {
    "j3": "a mapper crashes right after its map_ok, then comes back",
    "j4": "the reducer crashes right after an acknowledgement, then comes back",
    "j5": "a mapper crashes while it maps, and stays down until the job is over",
    "j6": "the reducer crashes holding outputs, and stays down",
}

#: What a job that meets its failure and never finishes says about the code, in words.
LESSONS = {
    "j3": "a mapper may confirm its split (map_ok) only once the reduce LB has kept its output",
    "j4": "a reducer must keep each output in storage before it acknowledges it",
    "j5": "a split whose mapper falls silent must go to another worker",
    "j6": "a silent reducer must be replaced, and sent again every output it held",
}

#: How long a node the demo crashed stays down before it comes back (when it comes back).
DOWN_FOR = 0.1
#: The longest the demo waits for one step of a job (its reducer, a busy mapper, a crash).
STEP_WAIT = 5.0


def expected_counts(documents: list[str]) -> dict[str, int]:
    """The exact word count, computed here and not by the code under test."""
    return dict(Counter(word for document in documents for word in document.lower().split()))


def bodies(cluster: Cluster) -> dict[str, dict[str, object]]:
    """Every message's body, by its ``mid``."""
    return {e["mid"]: e["body"] for e in cluster.trace.of_kind("send")}


def results_received(cluster: Cluster) -> dict[str, object]:
    """The counts the client received for each job: the first ``job_done`` delivered to it."""
    sent = bodies(cluster)
    results: dict[str, object] = {}
    for e in cluster.trace.of_kind("deliver"):
        body = sent.get(e["mid"], {})
        if e["dest"] == "client" and body.get("type") == "job_done":
            results.setdefault(str(body.get("job")), body.get("counts"))
    return results


def messages_of(cluster: Cluster, job: str) -> int:
    """How many messages were sent about ``job`` (every message of the protocol names its job)."""
    return sum(1 for e in cluster.trace.of_kind("send") if e["body"].get("job") == job)


def comparison(cluster: Cluster, status: dict[str, object]) -> str:
    """One clause per design, over the healthy jobs: messages per job, latency."""
    submitted = status.get("submitted") or {}
    latencies = status.get("latencies") or {}
    assert isinstance(submitted, dict) and isinstance(latencies, dict)
    clauses = []
    for entry, design in DESIGN.items():
        jobs = [job for job in HEALTHY if submitted.get(job) == entry and job in latencies]
        if not jobs:
            continue
        messages = sum(messages_of(cluster, job) for job in jobs) / len(jobs)
        latency = sum(latencies[job] for job in jobs) / len(jobs)
        clauses.append(f"{design}: {messages:.1f} messages and {latency * 1000:.0f} ms per job")
    recoveries = [f"{job} {latencies[job] * 1000:.0f} ms" for job in FAILURES if job in latencies]
    said = "; ".join(clauses)
    if recoveries:
        said += f". With failures: {', '.join(recoveries)}"
    return said


def what_happened_to(job: str) -> str:
    """The failure the demo aims at ``job``, in words."""
    return FAILURES.get(job, "on a healthy cluster")


# -- the failures ---------------------------------------------------------------------------------


def chosen_for(cluster: Cluster, job: str) -> str | None:
    """The reducer the reduce side (reduce LB or master) has chosen for ``job``, if any yet."""
    for coordinator in ("reduce_lb", "master"):
        chosen = cluster.status_of(coordinator).get("reducer_chosen")
        if isinstance(chosen, dict) and chosen.get("job") == job:
            return str(chosen.get("node"))
    return None


def holds_output_of(cluster: Cluster, worker: str, job: str) -> bool:
    """Whether ``worker`` has said it holds at least one map output of ``job``."""
    reducing = cluster.status_of(worker).get("reducing")
    return isinstance(reducing, dict) and reducing.get("job") == job and reducing["have"] >= 1


class Breaker:
    """Crashes workers at the moments the story needs, and keeps a log of it in words."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.happened: list[str] = []
        self.down: set[str] = set()  # crashed by the demo, not yet brought back

    async def wait(self, predicate: Callable[[], bool]) -> bool:
        """Wait (a bounded time) until ``predicate()`` holds; whether it did."""
        with trio.move_on_after(STEP_WAIT):
            await self.cluster.wait_until(predicate)
            return True
        return False

    def result_in(self, job: str) -> Callable[[], bool]:
        return lambda: job in (self.cluster.status_of("client").get("results") or {})

    def up(self, worker: str) -> bool:
        return self.cluster.state(worker) == "up"

    def idle(self, worker: str) -> bool:
        """Whether ``worker`` is up and says it maps nothing right now."""
        return self.up(worker) and not self.cluster.status_of(worker).get("mapping")

    def mapping_now(self, workers: list[str]) -> list[str]:
        """The workers that say they are mapping a split right now."""
        return [w for w in workers if self.up(w) and self.cluster.status_of(w).get("mapping")]

    async def crash(self, worker: str, why: str) -> None:
        if self.up(worker):
            await self.cluster.crash(worker)
            self.down.add(worker)
            self.happened.append(f"{worker} crashed at t={self.cluster.now():.2f} s {why}")

    async def crash_point(self, worker: str, after: str, job: str, *, nth: int = 1) -> None:
        """``worker`` crashes right after its ``nth`` next ``after`` message; back DOWN_FOR s later.

        If ``job`` is over before that message is sent, the worker is restarted anyway: a crash
        point lives as long as the node's incarnation, and must not wait for a later job.
        """
        if not self.up(worker):
            return
        await self.cluster.crash_after_send(worker, after, nth=nth)
        await self.wait(lambda: not self.up(worker) or self.result_in(job)())
        if not self.up(worker):
            self.happened.append(
                f"{worker} crashed at t={self.cluster.now():.2f} s right after it sent a "
                f"{after} ({job})"
            )
        await trio.sleep(DOWN_FOR)
        await self.cluster.restart(worker)

    async def run(self) -> None:
        """The story: one failure for each of j3 to j6, at the moment it hurts most."""
        # j3 (Part A): the crash point is armed before j3 starts (map_ok is sent in Part A
        # only), on the second map_ok: the worker's last split of j3 (8 splits, 4 workers), so
        # that no other work of its is lost with it.
        await self.wait(self.result_in("j2"))
        workers = self.cluster.roster.with_role("worker")
        await self.crash_point(workers[1], "map_ok", "j3", nth=2)
        # j4 (Part B): the reducer, as soon as it is chosen (before its acknowledgements).
        await self.wait(self.result_in("j3"))
        if await self.wait(lambda: chosen_for(self.cluster, "j4") is not None):
            await self.crash_point(str(chosen_for(self.cluster, "j4")), "reduce_input_ok", "j4")
        # j5 (Part A): a mapper in the middle of its split, down until j5 is over: its split
        # must go to another worker.
        await self.wait(self.result_in("j4"))
        if await self.wait(lambda: bool(self.mapping_now(workers))):
            mapper = self.mapping_now(workers)[0]
            await self.crash(mapper, "while it was mapping a split of j5")
            if await self.wait(self.result_in("j5")):  # only once its split went elsewhere
                await self.cluster.restart(mapper)
                self.down.discard(mapper)
        # j6 (Part B): the reducer once it holds an output, down until the end.
        if await self.wait(lambda: chosen_for(self.cluster, "j6") is not None):
            j6_reducer = str(chosen_for(self.cluster, "j6"))
            if await self.wait(
                lambda: holds_output_of(self.cluster, j6_reducer, "j6") and self.idle(j6_reducer)
            ):
                await self.crash(j6_reducer, "as the reducer of j6, holding at least one output")

    async def mend(self) -> None:
        """Bring back what the demo crashed and had not brought back yet (the TUI runs on)."""
        for worker in sorted(self.down):
            if self.cluster.state(worker) == "crashed":
                await self.cluster.restart(worker)
        self.down.clear()


# -- the checks -----------------------------------------------------------------------------------


def reducer_choices(cluster: Cluster) -> list[str]:
    """What was wrong with any job's first choice of a reducer, in words (empty: nothing)."""
    sent = bodies(cluster)
    signals: dict[tuple[str, str], list[TraceEvent]] = {}  # (node, job) -> map_done there
    for e in cluster.trace.of_kind("deliver"):
        body = sent.get(e["mid"], {})
        if body.get("type") == "map_done":
            signals.setdefault((e["dest"], str(body.get("job"))), []).append(e)
    first_choice: dict[str, TraceEvent] = {}
    for e in cluster.trace.of_kind("status"):
        chosen = e["fields"].get("reducer_chosen")
        if isinstance(chosen, dict):
            first_choice.setdefault(str(chosen.get("job")), e)
    wrong = []
    for job, e in sorted(first_choice.items()):
        chosen = e["fields"]["reducer_chosen"].get("node")
        before = [s for s in signals.get((str(e["node"]), job), []) if s.seq < e.seq]
        if not before:
            wrong.append(
                f"{e['node']} chose {chosen} to reduce {job} at t={e.t:.2f} s, before any map "
                f"of {job} had completed (choose at the first completion signal)"
            )
        elif chosen not in {s["src"] for s in before}:
            wrong.append(
                f"{e['node']} chose {chosen} to reduce {job}, not {before[0]['src']}, whose "
                f"completion signal came first (the late choice prefers the worker that has "
                f"just finished)"
            )
    return wrong


def unfair_shares(cluster: Cluster) -> list[str]:
    """Healthy jobs whose splits went first to some worker more than its fair share, in words.

    Only each split's first assignment counts: a lost message may send a split elsewhere again.
    """
    workers = cluster.roster.with_role("worker")
    wrong = []
    for job in HEALTHY:
        first_to: dict[object, str] = {}  # split -> the worker it was first sent to
        for e in cluster.trace.of_kind("send"):
            if e["body"].get("type") == "map" and e["body"].get("job") == job:
                first_to.setdefault(e["body"].get("split"), str(e["dest"]))
        sent = Counter(first_to.values())
        fair = -(-len(first_to) // len(workers))  # splits / workers, rounded up
        for worker, count in sent.most_common(1):
            if count > fair:
                wrong.append(
                    f"{worker} was given {count} of the {len(first_to)} splits of {job} "
                    f"(its fair share: {fair}; spread the splits round robin)"
                )
    return wrong


def where_it_stopped(cluster: Cluster, job: str) -> str:
    """A short story of a job that never finished, and what it teaches."""
    maps = [e for e in cluster.trace.of_kind("send") if e["body"].get("type") == "map"]
    mapped = {
        e["fields"]["mapped"].get("split")
        for e in cluster.trace.of_kind("status")
        if isinstance(e["fields"].get("mapped"), dict) and e["fields"]["mapped"].get("job") == job
    }
    splits = {e["body"].get("split") for e in maps if e["body"].get("job") == job}
    said = [f"{len(mapped)} of its {len(splits)} splits were mapped"]
    teaches = LESSONS.get(job)
    reducer = chosen_for(cluster, job)
    if reducer is not None:
        reducing = cluster.status_of(reducer).get("reducing")
        have = 0
        if isinstance(reducing, dict) and reducing.get("job") == job:
            have = int(reducing.get("have") or 0)
        said.append(
            f"its reducer {reducer} ({cluster.state(reducer)}) said it held {have} of "
            f"{len(splits)} outputs"
        )
        began = min(
            (
                e.t
                for e in cluster.trace.of_kind("status")
                if isinstance(e["fields"].get("reducer_chosen"), dict)
                and e["fields"]["reducer_chosen"].get("job") == job
            ),
            default=0.0,
        )
        came_back = [
            e for e in cluster.trace.of_kind("restart") if e["node"] == reducer and e.t >= began
        ]
        if came_back and have < len(splits):
            said.append(f"{reducer} had crashed and come back at t={came_back[-1].t:.2f} s")
            teaches = LESSONS["j4"]  # whatever the demo meant to break, storage is the lesson
    if len(mapped) < len(splits):
        teaches = LESSONS["j5"]
    return f"{job}: " + ", ".join(said) + (f". The lesson: {teaches}" if teaches else "")


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    wanted: int = cluster.config["jobs"]
    expected = expected_counts(cluster.config["documents"])
    breaker = Breaker(cluster)
    with trio.move_on_after(duration):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(breaker.run)
            await cluster.wait_for_status("client", lambda status: status.get("done") is True)
            nursery.cancel_scope.cancel()
    await breaker.mend()
    # With one process per node, each node's events reach the trace through its own pipe: the
    # client's "done" can arrive before the delivery of the last result it received.
    await cluster.settle()
    status = cluster.status_of("client")
    results = results_received(cluster)
    story = f" What the demo did: {'; '.join(breaker.happened)}." if breaker.happened else ""
    wrong = sorted(job for job, counts in results.items() if counts != expected)
    if wrong:
        return ScenarioResult.failed(
            f"{len(wrong)} of {len(results)} results were not the exact word count: "
            f"{', '.join(f'{job} ({what_happened_to(job)})' for job in wrong)} "
            f"(expected {sum(expected.values())} words, {len(expected)} distinct).{story}"
        )
    if len(results) < wanted:
        missing = [f"j{n}" for n in range(1, wanted + 1) if f"j{n}" not in results]
        return ScenarioResult.failed(
            f"the client got {len(results)} of {wanted} results in {duration:g} s; the first "
            f"missing, {missing[0]} ({what_happened_to(missing[0])}), never finished: "
            f"{where_it_stopped(cluster, missing[0])}.{story}"
        )
    mistakes = unfair_shares(cluster)
    # With one process per node, each node's events reach the trace through a pipe of its own:
    # their order across nodes is not the order in which things happened, so "chosen before
    # the first completion signal" can only be judged when the nodes share one process.
    if cluster.placement != "processes":
        mistakes = reducer_choices(cluster) + mistakes
    if mistakes:
        return ScenarioResult.failed(
            f"all {wanted} jobs counted exactly, but {'; '.join(mistakes)}.{story}"
        )
    return ScenarioResult.ok(
        f"all {wanted} jobs counted exactly ({sum(expected.values())} words, "
        f"{len(expected)} distinct), through crashes.{story} Healthy jobs: "
        f"{comparison(cluster, status)}"
    )
