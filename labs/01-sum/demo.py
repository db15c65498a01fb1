"""Lab 1's demo scenario: the client asks for sums while the workers, then the master, fail.

One failure after another, each the lesson of a part of the README (times from the moment the
client starts asking):

- t=0.6 s: ``worker-2`` crashes, and is back at t=1.8 s. Its share goes to another worker, the
  master skips it while it is suspected, and gives it work again once it is back.
- t=1.8 s to t=2.8 s: the network delivers a message in three twice. Each share counts once.
- t=2.2 s: ``worker-3`` freezes for 0.6 s. The master gives up on it and reassigns its share;
  when it wakes up it answers a job long answered, and that answer must be ignored.
- t=3.0 s to t=4.6 s: every worker answers 0.8 s late, past three of the master's timeouts. The
  master must keep asking, and count the late answers.
- t=4.8 s: the master crashes right after its next answer, and is restarted 0.1 s later. The
  jobs after its restart must get ids it never gave before.

It passes when the client has every answer, each exact, and the trace shows each lesson held.
With lost messages (``--drop``), only what still holds then is judged: exact sums, ids never
given twice, each share counted once, and worker-2 used again.
"""

from collections import Counter
from dataclasses import dataclass

import trio

from distlab import Cluster, ScenarioResult, TraceEvent

CRASHED_WORKER = "worker-2"
# Seconds after the client starts asking (with one process per node, later, if restarts are slow)
WORKER_CRASH_AT = 0.6
WORKER_BACK_AT = 1.8
FROZEN_WORKER = "worker-3"
FREEZE_AT = 2.2
FREEZE_FOR = 0.6
DUPLICATE = 0.3  # from WORKER_BACK_AT to FREEZE_AT + FREEZE_FOR: the messages delivered twice
SLOW_FROM = 3.0
SLOW_UNTIL = 4.6
LATE = 0.8  # seconds a worker's answer takes from SLOW_FROM to SLOW_UNTIL: past three timeouts
MASTER_CRASH_AT = 4.8
MASTER_DOWN_FOR = 0.1

FOREVER = float("inf")


@dataclass
class Story:
    """When each failure of the story really happened (run time, seconds)."""

    worker_down: float = FOREVER
    worker_back: float = FOREVER
    duplicates_from: float = FOREVER
    frozen: float = FOREVER
    woke: float = FOREVER
    slow_from: float = FOREVER
    slow_until: float = FOREVER
    master_down: float = FOREVER
    master_back: float = FOREVER

    def during(self, t: float) -> str:
        """What the story was doing at ``t``, in words."""
        if self.worker_down <= t < self.worker_back:
            return f"while {CRASHED_WORKER} was down"
        if self.duplicates_from <= t < self.frozen:
            return "while the network duplicated messages"
        if self.frozen <= t < self.woke:
            return f"while {FROZEN_WORKER} was frozen and the network duplicated messages"
        if self.woke <= t < self.slow_from:
            return f"after {FROZEN_WORKER} woke up"
        if self.slow_from <= t < self.slow_until:
            return "while every worker answered late"
        if t >= self.master_back:
            return "after the master's restart"
        return "with no failure going on"


async def break_things(cluster: Cluster, story: Story) -> None:
    """The failures of the story, one after another.

    Each waits its time after the one before it has happened: with one process per node, a
    restart takes a while, and the next lesson needs its full time.
    """
    await trio.sleep(WORKER_CRASH_AT)
    await cluster.crash(CRASHED_WORKER)
    story.worker_down = cluster.now()
    await trio.sleep(WORKER_BACK_AT - WORKER_CRASH_AT)
    await cluster.restart(CRASHED_WORKER)
    story.worker_back = cluster.now()

    duplicate = cluster.network.state.default.duplicate  # as the run was started
    cluster.network.set_faults(duplicate=max(duplicate, DUPLICATE))
    story.duplicates_from = cluster.now()
    await trio.sleep(FREEZE_AT - WORKER_BACK_AT)
    await cluster.pause(FROZEN_WORKER)
    story.frozen = cluster.now()
    await trio.sleep(FREEZE_FOR)
    await cluster.resume(FROZEN_WORKER)
    cluster.network.set_faults(duplicate=duplicate)
    story.woke = cluster.now()

    workers = cluster.roster.with_role("worker")
    await trio.sleep(SLOW_FROM - FREEZE_AT - FREEZE_FOR)
    for worker in workers:  # they hear the master on time, and answer late
        cluster.network.set_link(worker, "master", delay=LATE, jitter=0.02)
    story.slow_from = cluster.now()
    await trio.sleep(SLOW_UNTIL - SLOW_FROM)
    for worker in workers:
        cluster.network.reset_link(worker, "master")
    story.slow_until = cluster.now()

    await trio.sleep(MASTER_CRASH_AT - SLOW_UNTIL)
    if cluster.state("master") != "up":
        return  # it crashed by itself: the watch has stopped the run
    await cluster.crash_after_send("master", "sum_ok")
    await cluster.wait_until(lambda: cluster.state("master") == "crashed")
    story.master_down = cluster.now()
    await trio.sleep(MASTER_DOWN_FOR)
    await cluster.restart("master")
    story.master_back = cluster.now()


def crashed_by_itself(e: TraceEvent) -> bool:
    """A crash the node's own code caused (the scenario's crashes are "on purpose")."""
    return e.kind == "crash" and not str(e.get("reason", "")).startswith("crashed on purpose")


class Watch:
    """Stops the run at the first sign that it cannot pass: a node that crashed by itself, or
    (on a network that loses nothing) a sum the client had to ask for again while every worker
    was slow, which the master should have answered within the client's timeout."""

    def __init__(self, cluster: Cluster, story: Story, *, judge_timing: bool) -> None:
        self.cluster = cluster
        self.story = story
        self.judge_timing = judge_timing
        self.failure: str | None = None
        self.stop = trio.Event()
        self.asked: list[tuple[float, list[int]]] = []  # the client's sum requests

    def __call__(self, e: TraceEvent) -> None:
        if self.failure is not None:
            return
        if crashed_by_itself(e):
            self.fail(f"{e['node']} crashed at t={e.t:.2f} s: {e.get('reason')}")
        elif e.kind == "send" and e["src"] == "client" and e["body"].get("type") == "sum":
            numbers = list(e["body"].get("numbers", []))
            again = bool(self.asked) and self.asked[-1][1] == numbers
            if again and self.judge_timing:
                self.asked_again(first=self.asked[-1][0])
            if not again:
                self.asked.append((e.t, numbers))

    def asked_again(self, *, first: float) -> None:
        if not self.story.slow_from <= first < self.story.slow_until:
            return  # the master may have been down: asking again is what the client does then
        timeout: float = self.cluster.config["client_timeout"]
        self.fail(
            f"the client asked for a sum at t={first:.2f} s, while every worker answered "
            f"{LATE:g} s late, and had no answer {timeout:g} s later: the master must compute "
            "a job's shares at the same time, keep asking until each is counted, and count the "
            "first answers, even from workers it gave up on"
        )

    def fail(self, story: str) -> None:
        self.failure = story
        self.stop.set()


def sends(cluster: Cluster, msg_type: str, *, src: str | None = None) -> list[TraceEvent]:
    return [
        e
        for e in cluster.trace.of_kind("send")
        if e["body"].get("type") == msg_type and (src is None or e["src"] == src)
    ]


def between(events: list[TraceEvent], start: float, end: float) -> list[TraceEvent]:
    return [e for e in events if start <= e.t < end]


def wrong_answer(cluster: Cluster, story: Story) -> str | None:
    """The first answer the client got that is not the sum it asked for, in words."""
    asked = {
        e["body"].get("msg_id"): (e.t, list(e["body"].get("numbers", [])))
        for e in sends(cluster, "sum", src="client")
    }
    for e in sends(cluster, "sum_ok", src="master"):
        at, numbers = asked.get(e["body"].get("in_reply_to"), (0.0, []))
        if e["dest"] == "client" and e["body"].get("sum") != sum(numbers):
            return (
                f"the master answered job {e['body'].get('job')}, asked at t={at:.2f} s "
                f"{story.during(at)}, with the sum {e['body'].get('sum')}, but the sum of its "
                f"{len(numbers)} numbers is {sum(numbers)}"
            )
    return None


def repeated_job_id(cluster: Cluster, story: Story) -> str | None:
    """A job id the master gave twice (to two requests, or in two incarnations), in words."""
    answered: dict[str, float] = {}
    for e in sends(cluster, "sum_ok", src="master"):
        job = str(e["body"].get("job"))
        if job in answered:
            return (
                f"the master answered two requests as job {job}, at t={answered[job]:.2f} s and "
                f"t={e.t:.2f} s ({story.during(e.t)}): a late partial sum for the first would be "
                "counted in the second"
            )
        answered[job] = e.t
    first_use: dict[str, tuple[str, float]] = {}
    for e in sends(cluster, "partial", src="master"):
        job, incarnation = str(e["body"].get("job")), str(e["mid"]).split("/")[1]
        used = first_use.setdefault(job, (incarnation, e.t))
        if used[0] != incarnation:
            return (
                f"the master sent shares of job {job} at t={used[1]:.2f} s and, after its "
                f"restart, gave the same id {job} to another job at t={e.t:.2f} s: job ids must "
                "never repeat, even after a restart"
            )
    return None


def counted_twice(cluster: Cluster) -> str | None:
    counted = Counter(
        str(e["fields"]["counted"])
        for e in cluster.trace.of_kind("status")
        if e["node"] == "master" and "counted" in e["fields"]
    )
    twice = sorted(key for key, times in counted.items() if times > 1)
    if twice:
        return f"the master counted share {twice[0]} {counted[twice[0]]} times"
    return None


def unfair_share(cluster: Cluster, story: Story) -> str | None:
    """A worker sent more than its fair share of a job answered before the first failure."""
    workers = cluster.roster.with_role("worker")
    healthy_jobs = {
        str(e["body"].get("job"))
        for e in between(sends(cluster, "sum_ok", src="master"), 0.0, story.worker_down)
    }
    sent: Counter[tuple[str, str]] = Counter()
    sizes: Counter[str] = Counter()
    for e in sends(cluster, "partial", src="master"):
        job = str(e["body"].get("job"))
        if job in healthy_jobs:
            sent[(job, e["dest"])] += len(e["body"].get("numbers", []))
            sizes[job] += len(e["body"].get("numbers", []))
    for (job, worker), count in sorted(sent.items()):
        fair = -(-sizes[job] // len(workers))  # rounded up
        if count > fair:
            return (
                f"before any worker failed, the master sent {worker} {count} numbers of job {job} "
                f"({sizes[job]} numbers, {len(workers)} workers), more than its fair share {fair}"
            )
    return None


def skipped_while_suspected(cluster: Cluster, while_down: list[TraceEvent]) -> str | None:
    """Once a share sent to the crashed worker timed out, none goes to it for ``suspect_for``.

    Two shares sent to it less than a timeout apart are fine: two jobs (a duplicated request)
    may each have sent it one before either timed out.
    """
    timeout, suspect_for = cluster.config["timeout"], cluster.config["suspect_for"]
    for earlier in while_down:
        for later in while_down:
            if timeout <= later.t - earlier.t < timeout + suspect_for:
                return (
                    f"while {CRASHED_WORKER} was down the master sent it a share at "
                    f"t={earlier.t:.2f} s, which timed out, and another at t={later.t:.2f} s: "
                    f"once a share timed out, it must skip that worker for {suspect_for:g} s"
                )
    return None


def answers_per_share(cluster: Cluster) -> str | None:
    """Each worker answers each share it is delivered once (a duplicate is delivered twice)."""
    for worker in cluster.roster.with_role("worker"):
        received = sum(
            1
            for e in cluster.trace.of_kind("deliver")
            if e["dest"] == worker and e.get("type") == "partial"
        )
        answered = len(sends(cluster, "partial_ok", src=worker))
        if answered > received:
            return (
                f"{worker} was sent {received} shares and answered {answered} times: one "
                "answer per share is enough"
            )
    return None


def lessons(cluster: Cluster, story: Story, *, judge_timing: bool) -> list[str]:
    """What went wrong in the story, in words (nothing: it held).

    A lesson is judged only if the story got that far before the client had every sum: with
    one process per node on a busy machine, a restart can take seconds.
    """
    repeated = repeated_job_id(cluster, story)
    if repeated is not None:
        return [repeated]  # the checks below tell jobs apart by their ids
    found: list[str | None] = [counted_twice(cluster), answers_per_share(cluster)]
    to_crashed = [e for e in sends(cluster, "partial", src="master") if e["dest"] == CRASHED_WORKER]
    # Once every worker is slow, every worker is suspected and each is tried in turn: judge the
    # jobs before that (with lost messages, the whole run, if the story got to its end).
    used_again_by = story.slow_from if judge_timing else story.master_back
    if used_again_by < FOREVER and not between(to_crashed, story.worker_back, used_again_by):
        found.append(
            f"{CRASHED_WORKER} was back at t={story.worker_back:.2f} s, but the master did not "
            f"send it a share again by t={used_again_by:.2f} s: suspicion must expire"
        )
    if judge_timing:
        found.append(unfair_share(cluster, story))
    if judge_timing and story.worker_back < FOREVER:
        answered = sends(cluster, "sum_ok", src="master")
        if not between(answered, story.worker_down, story.worker_back):
            found.append(
                f"while {CRASHED_WORKER} was down (t={story.worker_down:.2f} s to "
                f"t={story.worker_back:.2f} s) the master answered no sum: a share a worker does "
                "not answer in time must go to another worker"
            )
        while_down = between(to_crashed, story.worker_down, story.worker_back)
        found.append(skipped_while_suspected(cluster, while_down))
    return [words for words in found if words is not None]


def summary(cluster: Cluster, story: Story) -> str:
    """The story as it happened, as far as it got before the client had every sum."""
    to_crashed = [e for e in sends(cluster, "partial", src="master") if e["dest"] == CRASHED_WORKER]
    after_restart = between(to_crashed, story.worker_back, FOREVER)
    chapters = [
        (
            story.worker_back,
            f"{CRASHED_WORKER} was down from t={story.worker_down:.2f} s to "
            f"t={story.worker_back:.2f} s and was sent {len(after_restart)} shares after its "
            "restart",
        ),
        (
            story.woke,
            f"messages were duplicated from t={story.duplicates_from:.2f} s to "
            f"t={story.woke:.2f} s; {FROZEN_WORKER} froze for {FREEZE_FOR:g} s",
        ),
        (
            story.slow_until,
            f"every worker answered {LATE:g} s late from t={story.slow_from:.2f} s to "
            f"t={story.slow_until:.2f} s",
        ),
        (
            story.master_back,
            f"the master crashed at t={story.master_down:.2f} s and was back at "
            f"t={story.master_back:.2f} s",
        ),
    ]
    told = [words for happened, words in chapters if happened < FOREVER]
    if len(told) < len(chapters):
        told.append(
            "the client had every sum before the rest of the story (slow restarts: raise "
            "client_jobs to see it all)"
        )
    jobs = [str(e["body"].get("job")) for e in sends(cluster, "sum_ok", src="master")]
    return "; ".join([*told, f"jobs {jobs[0]} to {jobs[-1]}, no id given twice"])


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    wanted = cluster.config["client_jobs"]
    network = cluster.network.state.default
    judge_timing = network.drop == 0  # lost messages delay sums and move shares around
    story = Story()
    watch = Watch(cluster, story, judge_timing=judge_timing)
    unsubscribe = cluster.trace.subscribe(watch)
    try:
        with trio.move_on_after(duration):
            async with trio.open_nursery() as nursery:

                async def stop_early() -> None:
                    await watch.stop.wait()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(stop_early)
                await cluster.wait_for_status("client", lambda status: "done" in status)
                nursery.start_soon(break_things, cluster, story)
                await cluster.wait_for_status("client", lambda status: status.get("done") is True)
                nursery.cancel_scope.cancel()
    finally:
        unsubscribe()
    await cluster.settle()  # with one process per node, each ships its events through a pipe
    if watch.failure is not None:
        return ScenarioResult.failed(watch.failure)
    status = cluster.status_of("client")
    right, wrong = status.get("right", 0), status.get("wrong", 0)
    if wrong:
        first = wrong_answer(cluster, story) or "see the client's warnings in the log"
        repeated = repeated_job_id(cluster, story)
        return ScenarioResult.failed(
            f"the master answered {wrong} of {right + wrong} sums wrong; first, {first}"
            + (f"; and {repeated}" if repeated else "")
        )
    if right < wanted:
        return ScenarioResult.failed(f"the client got {right} of {wanted} sums in {duration:g} s")
    wrongs = lessons(cluster, story, judge_timing=judge_timing)
    if wrongs:
        return ScenarioResult.failed("; ".join(wrongs))
    return ScenarioResult.ok(
        f"the client got all {wanted} sums, each exact, by t={cluster.now():.2f} s; "
        + summary(cluster, story)
    )
