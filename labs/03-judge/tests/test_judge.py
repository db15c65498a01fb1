"""Lab 3's graded tests.

Each test starts the judging service from the implementation being graded (the lab's demo
client stays idle: ``client_submissions = 0``), submits its own submissions from harness clients
(``run.client``), and checks what the service promised: every submission that was given an id
gets exactly one verdict recorded at the dashboard (its ``recorded`` status, read from the
trace), and the right one (asked with ``query``); and what the contestants were told, from
their histories (``run.history``): no id given twice, no verdict that changed once told. The
fault tests restart every role that keeps state, crash nodes between two steps of the protocol
(crash points), slow a link past the lb's timeout, and freeze a judge past the visibility
timeout (a zombie). Part C reads the health the lb publishes (``healthy``) and the dashboard
shows (``unhealthy``).

Every wait is bounded, so an implementation that never answers fails in plain words instead of
running out of time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

import trio

from distlab import Cluster, ConfigError, TraceEvent
from distlab.grading import (
    CheckFailed,
    Client,
    FaultSchedule,
    LabRun,
    answers_match,
    answers_never_change,
    crashed_by_itself,
    effects_from_status,
    exactly_once,
    expect_equal,
    faults,
    first_event,
    graded,
    no_crashes,
    no_value_given_twice,
    within,
)

#: seconds a harness client waits for the front end's answer before it gives up (or asks again)
CLIENT_TIMEOUT = 2.0
#: seconds within which every accepted submission must have its verdict recorded: ten
#: visibility timeouts (config["visibility_timeout"] = 1 s), as each lost message on the way
#: (receive_ok, judge, record, ...) costs one redelivery
VERDICT_DEADLINE = 10.0
#: seconds within which a judge whose sandbox hangs must leave the rotation, from the moment
#: it hangs: stuck_after (0.3 s) + unhealthy_after (2) checks, every health_interval (0.2 s)
LEAVE_DEADLINE = 1.0
#: seconds within which a judge must be back in the rotation once it works again
RETURN_DEADLINE = 0.5
#: seconds within which the dashboard must show a change in a judge's health
DASHBOARD_DEADLINE = 0.6
#: seconds a contestant waits for the dashboard's answer to a query while the contest goes on
QUERY_TIMEOUT = 0.5
#: seconds within which a judge back in the rotation must be given work again, while
#: submissions keep coming (one every 0.15 s, to three judges in rotation)
REJOIN_DEADLINE = 1.0


# -- helpers ----------------------------------------------------------------------------------


def judge_cluster(
    run: LabRun,
    *,
    judges: int | None = None,
    config: Mapping[str, Any] | None = None,
    **network: Any,
) -> AbstractAsyncContextManager[Cluster]:
    """The lab's cluster with the demo client idle; ``config`` overrides some parameters,
    ``network`` settings as for run.cluster."""
    counts = {"judge": judges} if judges is not None else None
    config = {"client_submissions": 0, **(config or {})}
    return run.cluster(config=config, counts=counts, **network)


def problems(run: LabRun) -> dict[str, list[str]]:
    return dict(run.config["problems"])


def right_verdict(expected: list[str] | None, answers: list[str]) -> str:
    """What a correct judge says, computed here and not by the code under test."""
    if expected is None:
        return "unknown problem"
    if answers == expected:
        return "accepted"
    first_wrong = next(
        case
        for case in range(max(len(expected), len(answers)))
        if case >= len(expected) or case >= len(answers) or answers[case] != expected[case]
    )
    return f"wrong answer on test {first_wrong + 1}"


def make_submission(run: LabRun, problem: str | None = None) -> dict[str, Any]:
    """A submission to a problem (random if None): right answers, or one wrong, by chance."""
    problem = problem or run.random.choice(sorted(problems(run)))
    answers = list(problems(run)[problem])
    if run.random.random() < 0.4:
        answers[run.random.randrange(len(answers))] = "wrong"
    return {"type": "submit", "problem": problem, "answers": answers}


class Contest:
    """The submissions a test made, and the id each one was given."""

    def __init__(self, run: LabRun, cluster: Cluster) -> None:
        self.run = run
        self.cluster = cluster
        self.accepted: dict[str, dict[str, Any]] = {}  # id -> the submit message's body
        self.at: dict[str, float] = {}  # id -> when the client had its id

    async def submit(self, client: Client, submission: dict[str, Any], *, attempts: int = 1) -> str:
        """Submit until the front end answers with an id (up to ``attempts`` times)."""
        began = self.cluster.now()
        for _ in range(attempts):
            reply = await client.call("frontend", submission, timeout=CLIENT_TIMEOUT)
            if reply is not None and isinstance(reply.body.get("id"), str):
                submission_id = str(reply.body["id"])
                if submission_id in self.accepted:
                    raise CheckFailed(
                        f"the front end gave the id {submission_id} twice (the second time at "
                        f"t={self.cluster.now():.3f} s): each submission needs its own id"
                    )
                self.accepted[submission_id] = submission
                self.at[submission_id] = self.cluster.now()
                return submission_id
        tries = "" if attempts == 1 else f" {attempts} times"
        raise CheckFailed(
            f"{client.name} submitted{tries} from t={began:.3f} s, and the front end never "
            f"answered with an id within {CLIENT_TIMEOUT:g} s (at t={self.cluster.now():.3f} s "
            f"the front end was {self.cluster.state('frontend')}, and the queue "
            f"{self.cluster.state('queue')} with status {self.cluster.status_of('queue')})"
        )

    async def submit_all(
        self, client: Client, submissions: list[dict[str, Any]], *, attempts: int = 1
    ) -> None:
        """Submit them all at once, each in a task of its own."""
        async with trio.open_nursery() as nursery:
            for submission in submissions:
                nursery.start_soon(partial(self.submit, client, submission, attempts=attempts))

    def recorded(self) -> set[str]:
        """The ids the dashboard has recorded a verdict for so far."""
        effects = effects_from_status(self.cluster.trace.events, field="recorded")
        return {key for key, _, _ in effects}

    async def wait_for_verdicts(self, seconds: float = VERDICT_DEADLINE) -> None:
        """Wait until every accepted submission has a verdict recorded; fail if not in time."""
        began = self.cluster.now()
        recorded = self.recorded()

        def newly_recorded(e: TraceEvent) -> bool:
            if e.kind == "status" and "recorded" in e["fields"]:
                recorded.add(str(e["fields"]["recorded"]))
                return True
            return False

        with trio.move_on_after(seconds):
            await wait_for_events(
                self.cluster, newly_recorded, until=lambda: set(self.accepted) <= recorded
            )
            return
        self.fail_on_missing_verdicts(began)

    async def expect_every_verdict(self, client: Client, *, after: str = "") -> None:
        """Every accepted submission judged in time, right, and recorded once; no node of the
        implementation crashed by itself. ``after`` says what the test broke, first thing in a
        failure to wait in time (``"judge-2 crashed at t=0.412 s."``)."""
        try:
            await self.wait_for_verdicts()
        except CheckFailed as error:
            raise CheckFailed(f"{after} {error}" if after else str(error)) from None
        await self.check_verdicts(client)
        self.check_each_recorded_once()
        no_crashes(self.cluster.trace.events)

    def fail_on_missing_verdicts(self, began: float) -> None:
        missing = sorted(set(self.accepted) - self.recorded(), key=_natural)
        stories = "; ".join(self.story(i) for i in missing[:3])
        raise CheckFailed(
            f"{len(missing)} of the {len(self.accepted)} submissions that were given an id "
            f"had no verdict recorded at the dashboard by t={self.cluster.now():.3f} s, "
            f"{self.cluster.now() - began:g} s after the test began to wait for them: "
            f"{', '.join(missing)}. An id is a promise that the submission will be judged. "
            f"{stories}"
        )

    def story(self, submission_id: str) -> str:
        """What happened to one submission, from the trace, in a sentence."""
        said = [f"{submission_id}: id given at t={self.at[submission_id]:.3f} s"]
        for kind in ("enqueue_ok", "judge", "record", "record_ok", "delete"):
            sends = [
                e
                for e in self.cluster.trace.of_kind("send")
                if e["body"].get("type") == kind and e["body"].get("id") == submission_id
            ]
            if sends:
                times = ", ".join(f"t={e.t:.3f} s ({e['src']}→{e['dest']})" for e in sends[:3])
                said.append(f"{kind} sent at {times}")
            else:
                said.append(f"no {kind} ever sent")
        return ", ".join(said)

    def check_each_recorded_once(self) -> None:
        """Every accepted submission recorded exactly once; any other id at most once."""
        exactly_once(
            effects_from_status(self.cluster.trace.events, field="recorded"),
            expected=self.accepted,
            what="the verdicts the dashboard recorded (its status recorded=<id>)",
            allow_unexpected=True,  # submissions queued whose id the client never heard of
        )

    def right_verdict_of(self, submission_id: str) -> str:
        """The verdict a correct judge gives an accepted submission."""
        submission = self.accepted[submission_id]
        return right_verdict(problems(self.run).get(submission["problem"]), submission["answers"])

    async def check_verdicts(self, client: Client) -> None:
        """Ask the dashboard for every accepted submission's verdict: each must be right.

        Then judge what every client was told, all along (``run.history``): no id given twice,
        no verdict that changed or went back to None, no wrong verdict.
        """
        final: dict[str, Any] = {}
        for submission_id in self.accepted:
            reply = await client.call(
                "dashboard", {"type": "query", "id": submission_id}, timeout=CLIENT_TIMEOUT
            )
            if reply is None:
                raise CheckFailed(
                    f"the dashboard did not answer a query for {submission_id} within "
                    f"{CLIENT_TIMEOUT:g} s (at t={self.cluster.now():.3f} s)"
                )
            final[submission_id] = reply.body.get("verdict")
        self.check_what_clients_were_told()
        for submission_id, verdict in final.items():
            submission = self.accepted[submission_id]
            expect_equal(
                verdict,
                self.right_verdict_of(submission_id),
                what=f"the verdict the dashboard gave for {submission_id} (problem "
                f"{submission['problem']!r}, answers {submission['answers']})",
            )

    def check_what_clients_were_told(self) -> None:
        """From the clients' histories: ids given once; each verdict told never changes, and is
        right."""
        history = self.run.history
        no_value_given_twice(history, f="submit", field="id", what="the ids the front end gave")
        what = "the verdict the dashboard told"
        answers_never_change(history, f="query", key="id", field="verdict", what=what)
        right = {i: self.right_verdict_of(i) for i in self.accepted}
        answers_match(history, f="query", key="id", field="verdict", expected=right, what=what)


def _natural(key: str) -> tuple[int, str]:
    digits = "".join(c for c in key if c.isdigit())
    return (int(digits) if digits else 0, key)


async def wait_for_events(
    cluster: Cluster, relevant: Callable[[TraceEvent], bool], *, until: Callable[[], bool]
) -> None:
    """Wait until ``until()`` holds, checking it again after each relevant trace event.

    A node that crashes by itself (its code raised) fails the test at once, with its traceback:
    nothing good can come of waiting longer. Bound it with ``trio.move_on_after``.
    """
    no_crashes(cluster.trace.events)
    changed = trio.Event()
    crashed = False

    def watch(e: TraceEvent) -> None:
        nonlocal crashed
        if crashed_by_itself(e):
            crashed = True
            changed.set()
        elif relevant(e):
            changed.set()

    unsubscribe = cluster.trace.subscribe(watch)
    try:
        while not until():
            if crashed:
                no_crashes(cluster.trace.events)
            await changed.wait()
            changed = trio.Event()
    finally:
        unsubscribe()


def judges(cluster: Cluster) -> list[str]:
    return cluster.roster.with_role("judge")


def lb_healthy(status: Mapping[str, Any]) -> list[str]:
    return list(status["healthy"])


# -- Part A: the happy path -------------------------------------------------------------------


@graded(points=2, seeds=25, budget=150)
async def test_every_submission_gets_the_right_verdict(run: LabRun) -> None:
    """On a healthy network, every submission gets an id, and its right verdict, recorded once."""
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        for problem in sorted(problems(run)):
            await contest.submit(client, make_submission(run, problem))
        unknown = {"type": "submit", "problem": "no-such-problem", "answers": ["1"]}
        await contest.submit(client, unknown)
        await contest.expect_every_verdict(client)


@graded(points=2, seeds=25, budget=150)
async def test_an_id_is_given_only_once_the_submission_is_queued(run: LabRun) -> None:
    """The front end answers a submission with its id only after the queue confirmed it."""
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        await contest.submit_all(client, [make_submission(run) for _ in range(4)])
        await contest.wait_for_verdicts()
    sends = cluster.trace.of_kind("send")
    confirmed: dict[str, TraceEvent] = {}  # id -> the queue's first enqueue_ok for it
    for e in sends:
        if e["body"].get("type") == "enqueue_ok" and e["src"] == "queue":
            confirmed.setdefault(str(e["body"].get("id")), e)
    for e in sends:
        submission_id = e["body"].get("id")
        if e["body"].get("type") != "submit_ok" or submission_id not in contest.accepted:
            continue
        confirmation = confirmed.get(submission_id)
        if confirmation is None or confirmation.seq > e.seq:
            when = "never" if confirmation is None else f"only at t={confirmation.t:.3f} s"
            raise CheckFailed(
                f"the front end gave the id {submission_id} (submit_ok) at t={e.t:.3f} s, "
                f"before the queue had confirmed that it keeps the submission (enqueue_ok: "
                f"{when}): until then a crash loses a submission its client holds an id for"
            )
    contest.check_each_recorded_once()


@graded(points=1, seeds=20, budget=120)
async def test_each_judge_has_one_submission_at_a_time(run: LabRun) -> None:
    """More submissions at once than judges: the lb hands a judge its next submission only once
    the judge has answered the last one (or the visibility timeout has passed)."""
    visibility: float = run.config["visibility_timeout"]
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        await trio.sleep(0.3)  # every judge has passed its first health check
        no_crashes(cluster.trace.events)  # a node that crashed by itself: say so, and why
        burst = 3 * len(judges(cluster)) + run.random.randint(0, 2)
        burst_at = cluster.now()
        await contest.submit_all(client, [make_submission(run) for _ in range(burst)])
        await contest.expect_every_verdict(
            client, after=f"{burst} submissions were made at once at t={burst_at:.3f} s."
        )
    judging: dict[str, TraceEvent] = {}  # judge -> the lb's judge request it has not answered
    for e in cluster.trace.of_kind("send"):
        kind, submission_id = e["body"].get("type"), e["body"].get("id")
        if kind == "judge_ok" and e["dest"] == "lb":
            last = judging.get(str(e["src"]))
            if last is not None and last["body"].get("id") == submission_id:
                del judging[str(e["src"])]
        if kind != "judge" or e["src"] != "lb":
            continue
        judge = str(e["dest"])
        last = judging.get(judge)
        if last is not None and e.t - last.t < visibility:
            raise CheckFailed(
                f"{burst} submissions were made at once at t={burst_at:.3f} s, to "
                f"{len(judges(cluster))} judges. The lb sent {judge} {last['body'].get('id')} "
                f"to judge at t={last.t:.3f} s, and then {submission_id} at t={e.t:.3f} s, "
                f"while {judge} had not answered for the first yet (no judge_ok) and the "
                f"visibility timeout ({visibility:g} s) had not passed: a judge gets one "
                "submission at a time. Count a judge busy from the moment you send it a "
                "submission until it answers (or the visibility timeout passes), and hand "
                "submissions only to judges that are free"
            )
        judging[judge] = e


# -- Part B: nothing accepted is lost ---------------------------------------------------------


@graded(points=3, seeds=25, budget=150)
async def test_a_judge_crashing_mid_judging_loses_nothing(run: LabRun) -> None:
    """A judge crashes in the middle of a judging run: its submission is judged all the same."""
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(contest.submit_all, client, [make_submission(run) for _ in range(5)])
            busy = await first_event(
                cluster,
                lambda e: e.kind == "status" and e["fields"].get("state") == "judging",
                seconds=3,
            )
            if busy is None:
                raise CheckFailed(
                    "no judge published state='judging' within 3 s of the first submissions: "
                    "a judge says when it starts judging (status(state='judging')), so that "
                    "the test can crash a busy one"
                )
            victim, doing = str(busy["node"]), cluster.status_of(str(busy["node"])).get("judging")
            await cluster.crash(victim)  # for good: it does not come back
            crashed_at = cluster.now()
        await contest.expect_every_verdict(
            client,
            after=f"{victim} crashed at t={crashed_at:.3f} s while judging {doing}, and never "
            "came back.",
        )


@graded(points=3, seeds=25, budget=150)
async def test_the_queue_survives_a_crash_and_restart(run: LabRun) -> None:
    """The queue crashes holding submissions and restarts: every one of them is still judged."""
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        waiting = run.random.randint(2, 4)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                contest.submit_all, client, [make_submission(run, "primes") for _ in range(8)]
            )
            full = await first_event(
                cluster,
                lambda e: (
                    e.kind == "status"
                    and e["node"] == "queue"
                    and (e["fields"].get("depth") or 0) >= waiting
                ),
                seconds=3,
            )
            if full is None:
                raise CheckFailed(
                    f"the queue never published depth >= {waiting} within 3 s, while 8 "
                    "submissions were made at once to 3 judges: the queue says how many "
                    "submissions wait in it (status(depth=n))"
                )
            await cluster.crash("queue")
            crashed_at = cluster.now()
            await trio.sleep(run.random.uniform(0.1, 0.4))
            await cluster.restart("queue")
            restarted_at = cluster.now()
        await contest.expect_every_verdict(
            client,
            after=f"the queue crashed at t={crashed_at:.3f} s with {waiting} or more "
            f"submissions waiting in it, and restarted at t={restarted_at:.3f} s.",
        )


@graded(points=2, seeds=40, budget=150)
async def test_lost_messages_lose_no_submission(run: LabRun) -> None:
    """With 10% of messages lost, every submission given an id is judged, and recorded once."""
    async with judge_cluster(run, drop=0.1, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        await contest.submit_all(client, [make_submission(run) for _ in range(6)], attempts=10)
        try:
            await contest.wait_for_verdicts()
        except CheckFailed as error:
            raise CheckFailed(f"with 10% of messages lost: {error}") from None
        cluster.network.set_faults(drop=0.0)  # the queries are not what this test is about
        await contest.check_verdicts(client)
        contest.check_each_recorded_once()
        no_crashes(cluster.trace.events)


@graded(points=3, seeds=25, budget=150)
async def test_each_submission_is_recorded_once(run: LabRun) -> None:
    """With duplicated messages, submissions get judged twice: each is still recorded once."""
    async with judge_cluster(run, duplicate=0.3, delay=0.01, jitter=0.01) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        await contest.submit_all(client, [make_submission(run) for _ in range(6)])
        await contest.wait_for_verdicts()
        # A duplicated judge request is judged again right after the first: let it finish.
        await trio.sleep(0.5)
        contest.check_each_recorded_once()
        await contest.check_verdicts(client)
        no_crashes(cluster.trace.events)


@graded(points=1, seeds=20, budget=120)
async def test_a_submission_queued_twice_is_kept_once(run: LabRun) -> None:
    """The queue's enqueue_ok is slow, so the front end sends each submission to the queue two
    times or more (the lb paused meanwhile): the queue keeps one copy per id, and each
    submission is handed out, and judged, once."""
    slow = 1.6 * run.config["timeout"]  # past the front end's timeout: it asks again
    visibility: float = run.config["visibility_timeout"]
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        schedule = run.schedule(cluster)
        async with schedule.running():
            await trio.sleep(0.3)  # every judge has passed its first health check
            no_crashes(cluster.trace.events)  # a node that crashed by itself: say so, and why
            # The lb hands nothing out until every copy the front end sent has reached the
            # queue: whatever the queue keeps twice, it will hand out twice.
            await schedule.fire(faults.pause("lb"))
            await trio.sleep(0.05)  # the lb's last receive is answered, empty
            await schedule.fire(faults.slow_link("queue", "frontend", delay=slow))
            count = run.random.randint(1, 2)  # fewer than the judges: copies are judged at once
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    contest.submit_all, client, [make_submission(run) for _ in range(count)]
                )
                await trio.sleep(run.random.uniform(0.6, 0.9))  # each sent 3 times or more
                await schedule.fire(
                    faults.slow_link("queue", "frontend", delay=0.005, jitter=0.004)
                )
            await schedule.fire(faults.resume("lb"))
        try:
            await contest.expect_every_verdict(client)
        except CheckFailed as error:
            raise CheckFailed(f"{fault_log(schedule)} {error}") from None
        await trio.sleep(visibility)  # any second judging, too
    sends = cluster.trace.of_kind("send")
    enqueued: dict[str, int] = {}
    for e in sends:
        if e["body"].get("type") == "enqueue" and e["dest"] == "queue":
            enqueued[str(e["body"].get("id"))] = enqueued.get(str(e["body"].get("id")), 0) + 1
    sent: dict[str, list[str]] = {}
    for e in sends:
        if e["src"] == "lb" and e["body"].get("type") == "judge":
            sent.setdefault(str(e["body"].get("id")), []).append(f"{e['dest']} at t={e.t:.3f} s")
    twice = {i: to for i, to in sent.items() if len(to) > 1}
    if twice:
        said = "; ".join(
            f"{i} (sent to the queue {enqueued.get(i, 0)} times) to {', '.join(to)}"
            for i, to in sorted(twice.items())
        )
        raise CheckFailed(
            f"{fault_log(schedule)} The front end sent each submission to the queue more than "
            f"once (its enqueue_ok came too late), while the lb handed nothing out; then the lb "
            f"sent these submissions to a judge more than once, on a network that lost "
            f"nothing: {said}. The queue keeps one copy per id: an enqueue for an id it "
            "already holds changes nothing, and is confirmed with enqueue_ok all the same"
        )


# -- Part B, under the faults that find the order of steps and what is kept --------------------


def fault_log(schedule: FaultSchedule) -> str:
    """What the test did to the cluster, and where crash points struck, for failure messages."""
    struck = [
        f"t={e.t:.3f} {e['node']} {e['reason']}"
        for e in schedule.cluster.trace.of_kind("crash")
        if "crash point" in str(e.get("reason", ""))
    ]
    said = sorted([*schedule.describe_log(), *struck], key=lambda line: float(line[2:].split()[0]))
    return "What the test did: " + "; ".join(said) + "."


def patience(config: Mapping[str, Any]) -> float:
    """How long a judge tries to record (or delete) before it leaves it to the queue."""
    return float(config["attempts"] * config["timeout"])


async def submit_and_ask(contest: Contest, client: Client, *, every: float, until: float) -> None:
    """A contestant: one submission every ``every`` s until ``until`` (each submitted up to 3
    times), and after each, a look at the verdict of one of its earlier ones."""
    mine: list[str] = []
    while contest.cluster.now() < until:
        mine.append(await contest.submit(client, make_submission(contest.run), attempts=3))
        asked = contest.run.random.choice(mine)
        await client.call("dashboard", {"type": "query", "id": asked}, timeout=QUERY_TIMEOUT)
        await trio.sleep(every)


async def contestants(
    contest: Contest, clients: list[Client], *, every: float, until: float
) -> None:
    """Every client a contestant (``submit_and_ask``), all at the same time."""
    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(partial(submit_and_ask, contest, client, every=every, until=until))


async def restart_whoever_crashes(
    cluster: Cluster, schedule: FaultSchedule, *, after: tuple[float, float]
) -> None:
    """Restart each node that a crash point takes down, ``after`` (a range of) seconds later.

    Runs until cancelled; the restarts are in the schedule's log.
    """
    crashed_send, crashed_receive = trio.open_memory_channel[str](math.inf)

    def watch(e: TraceEvent) -> None:
        if e.kind == "crash" and "crash point" in str(e.get("reason", "")):
            crashed_send.send_nowait(str(e["node"]))

    async def restart_later(name: str, delay: float) -> None:
        await trio.sleep(delay)
        await schedule.fire(faults.restart(name))

    unsubscribe = cluster.trace.subscribe(watch)
    try:
        async with trio.open_nursery() as nursery:
            async for name in crashed_receive:
                nursery.start_soon(restart_later, name, schedule.rng.uniform(*after))
    finally:
        unsubscribe()


@graded(points=3, seeds=25, budget=150)
async def test_every_role_that_keeps_state_survives_a_restart(run: LabRun) -> None:
    """The dashboard, the front end, the lb and the queue crash and restart while three
    contestants submit: ids stay new, verdicts stay kept, nothing confirmed is lost."""
    # Judges that give up on the dashboard (attempts x timeout = 0.5 s) well before the queue
    # hands a submission out again (visibility_timeout = 1 s): what a judge does when it gives
    # up then decides whether the submission is lost.
    config = {"attempts": 2}
    # Down longer than a judge tries to record, and the front end to enqueue: every one of them
    # that asks meanwhile gets no answer, and must not act as if it had.
    down = patience({**run.config, **config}) + run.random.uniform(0.5, 0.8)
    dashboard_at = run.random.uniform(0.5, 0.8)
    frontend_at = dashboard_at + down + run.random.uniform(0.1, 0.3)
    lb_at = frontend_at + run.random.uniform(0.1, 0.3)
    queue_at = lb_at + run.random.uniform(0.1, 0.3)
    async with judge_cluster(run, config=config, delay=0.005, jitter=0.004) as cluster:
        clients = [await run.client(cluster, f"client-{i}") for i in (1, 2, 3)]
        contest = Contest(run, cluster)
        schedule = run.schedule(cluster)
        schedule.at(dashboard_at, faults.crash("dashboard"))
        schedule.at(dashboard_at + down, faults.restart("dashboard"))
        schedule.at(frontend_at, faults.crash("frontend"))
        schedule.at(frontend_at + run.random.uniform(0.1, 0.3), faults.restart("frontend"))
        schedule.at(lb_at, faults.restart("lb"))
        schedule.at(queue_at, faults.crash("queue"))
        schedule.at(queue_at + down, faults.restart("queue"))
        async with schedule.running():
            await contestants(contest, clients, every=0.25, until=queue_at + down + 0.3)
        await schedule.final_heal()
        try:
            await contest.expect_every_verdict(clients[0])
        except CheckFailed as error:
            raise CheckFailed(f"{fault_log(schedule)} {error}") from None


@graded(points=3, seeds=30, budget=150)
async def test_a_crash_between_two_steps_loses_nothing(run: LabRun) -> None:
    """Crash points: the queue right after an enqueue_ok, the dashboard after a record_ok, each
    judge after its record, its delete or its judge_ok; all come back: nothing is lost."""
    arm_at = 0.3  # every judge has passed its first health check
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        clients = [await run.client(cluster, f"client-{i}") for i in (1, 2)]
        contest = Contest(run, cluster)
        schedule = run.schedule(cluster)
        # The README's orders: a judge records, then deletes, then answers the lb; the queue
        # saves, then confirms; the dashboard stores, then confirms. A crash right after each
        # send must leave what was confirmed kept.
        steps = ["record", "delete", "judge_ok"]
        run.random.shuffle(steps)
        for judge, step in zip(judges(cluster), steps, strict=True):
            schedule.at(arm_at, faults.crash_after(judge, step))
        nth_enqueue, nth_record = run.random.randint(1, 4), run.random.randint(1, 4)
        schedule.at(arm_at, faults.crash_after("queue", "enqueue_ok", nth=nth_enqueue))
        schedule.at(arm_at, faults.crash_after("dashboard", "record_ok", nth=nth_record))
        bring_back = partial(restart_whoever_crashes, cluster, schedule, after=(0.1, 0.4))
        async with schedule.running(), trio.open_nursery() as nursery:
            nursery.start_soon(bring_back)
            await contestants(contest, clients, every=0.15, until=2.0)
            nursery.cancel_scope.cancel()
        await schedule.final_heal()
        try:
            await contest.expect_every_verdict(clients[0])
        except CheckFailed as error:
            raise CheckFailed(f"{fault_log(schedule)} {error}") from None


@graded(points=2, seeds=20, budget=150)
async def test_late_answers_from_the_queue_lose_nothing(run: LabRun) -> None:
    """For over three visibility timeouts, the queue's answers reach the lb after it has asked
    again: submissions are handed out, unseen, again and again; each is judged in the end."""
    slow = 1.6 * run.config["timeout"]  # past the lb's timeout: every answer comes too late
    visibility: float = run.config["visibility_timeout"]
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        schedule = run.schedule(cluster)
        async with schedule.running():
            await trio.sleep(0.3)
            await schedule.fire(faults.slow_link("queue", "lb", delay=slow))
            await contest.submit_all(client, [make_submission(run) for _ in range(3)])
            # Each waiting submission is handed out (and hidden) again every visibility timeout,
            # its answer lost in the lb's past: three times, and more.
            await trio.sleep(3 * visibility + run.random.uniform(0.2, 0.5))
            await schedule.fire(faults.slow_link("queue", "lb", delay=0.005, jitter=0.004))
        try:
            await contest.expect_every_verdict(client)
        except CheckFailed as error:
            raise CheckFailed(
                f"{fault_log(schedule)} While the link was slow, the lb asked the queue for "
                f"work every {run.config['timeout']:g} s and never heard the answer in time: a "
                f"submission handed out that way was seen by no judge, and must come back. "
                f"{error}"
            ) from None


# -- Part C: health ---------------------------------------------------------------------------


async def keep_submitting(contest: Contest, client: Client, *, every: float, until: float) -> None:
    """A steady stream of submissions, one every ``every`` seconds, until ``until``."""
    while contest.cluster.now() < until:
        await contest.submit(client, make_submission(contest.run, "fib"))
        await trio.sleep(every)


def sent_to(cluster: Cluster, judge: str, msg_type: str, since: float, until: float) -> list[str]:
    """When the lb sent ``msg_type`` messages to ``judge`` in [since, until], in words."""
    return [
        f"t={e.t:.3f} s ({e['body'].get('id')})"
        for e in cluster.trace.of_kind("send")
        if e["src"] == "lb"
        and e["dest"] == judge
        and e["body"].get("type") == msg_type
        and since <= e.t <= until
    ]


@graded(points=3, seeds=25, budget=150)
async def test_a_wedged_judge_leaves_the_rotation_and_comes_back(run: LabRun) -> None:
    """A judge whose sandbox hangs (its process still up) leaves the rotation, and returns."""
    hang = 1.2
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        victim = run.random.choice(judges(cluster))
        await client.call(victim, {"type": "wedge", "seconds": hang}, timeout=CLIENT_TIMEOUT)
        steadily = partial(keep_submitting, contest, client, every=0.3, until=hang + 1.2)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(steadily)
            hung = await first_event(
                cluster,
                lambda e: (
                    e.kind == "status"
                    and e["node"] == victim
                    and e["fields"].get("sandbox") == "hung"
                ),
                seconds=3,
            )
            if hung is None:
                raise CheckFailed(
                    f"{victim} was wedged (its next sandbox run hangs {hang:g} s), but in 3 s of "
                    f"steady submissions it never started a sandbox run: the lb must share the "
                    f"work among all the healthy judges. lb status {cluster.status_of('lb')}"
                )
        # Run past the last deadline, so that the trace can tell.
        await trio.sleep(max(0.0, hung.t + hang + RETURN_DEADLINE + 0.1 - cluster.now()))
        events = cluster.trace.events
        left = within(
            events,
            after=hung.t,
            seconds=LEAVE_DEADLINE,
            node="lb",
            predicate=lambda s: victim not in lb_healthy(s),
            what=f"{victim}'s sandbox hung from t={hung.t:.3f} s for {hang:g} s (its process "
            f"up, answering messages): the lb takes it out of the rotation (its status healthy)",
        )
        recovered = hung.t + hang
        back = within(
            events,
            after=recovered,
            seconds=RETURN_DEADLINE,
            node="lb",
            predicate=lambda s: victim in lb_healthy(s),
            what=f"{victim}'s sandbox worked again from t={recovered:.3f} s: the lb puts it back "
            "in the rotation (its status healthy)",
        )
        given = sent_to(cluster, victim, "judge", left + 0.001, back - 0.001)
        if given:
            raise CheckFailed(
                f"{victim} was out of the rotation from t={left:.3f} s to t={back:.3f} s, yet "
                f"the lb sent it submissions to judge at {', '.join(given)}"
            )
        await contest.wait_for_verdicts()
        contest.check_each_recorded_once()
        no_crashes(cluster.trace.events)


@graded(points=1, seeds=25, budget=150)
async def test_the_dashboard_shows_each_judges_health(run: LabRun) -> None:
    """A judge freezes and recovers: the dashboard shows it unhealthy, then healthy again."""
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        victim = run.random.choice(judges(cluster))
        await trio.sleep(run.random.uniform(0.3, 0.5))
        no_crashes(cluster.trace.events)  # a node that crashed by itself: say so, and why
        await cluster.pause(victim)
        paused_at = cluster.now()
        await trio.sleep(1.5)
        await cluster.resume(victim)
        resumed_at = cluster.now()
        await trio.sleep(1.0)
    events = cluster.trace.events
    left = within(
        events,
        after=paused_at,
        seconds=LEAVE_DEADLINE,
        node="lb",
        predicate=lambda s: victim not in lb_healthy(s),
        what=f"{victim} froze at t={paused_at:.3f} s: the lb takes it out of the rotation",
    )
    within(
        events,
        after=left,
        seconds=DASHBOARD_DEADLINE,
        node="dashboard",
        predicate=lambda s: victim in s["unhealthy"],
        what=f"the lb took {victim} out of the rotation at t={left:.3f} s: the dashboard shows "
        "it (its status unhealthy)",
    )
    back = within(
        events,
        after=resumed_at,
        seconds=RETURN_DEADLINE,
        node="lb",
        predicate=lambda s: victim in lb_healthy(s),
        what=f"{victim} was resumed at t={resumed_at:.3f} s: the lb puts it back in the rotation",
    )
    within(
        events,
        after=back,
        seconds=DASHBOARD_DEADLINE,
        node="dashboard",
        predicate=lambda s: victim not in s["unhealthy"],
        what=f"the lb put {victim} back in the rotation at t={back:.3f} s: the dashboard shows "
        "it healthy again (no longer in its status unhealthy)",
    )
    no_crashes(events)


@graded(points=1, seeds=20, budget=120)
async def test_no_work_goes_to_a_judge_out_of_the_rotation(run: LabRun) -> None:
    """Every judge freezes: while none is in the rotation the lb hands out no submission, and
    the queue keeps them all until the judges are back."""
    frozen_for = 1.2
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        await trio.sleep(run.random.uniform(0.3, 0.5))  # every judge has passed a check
        no_crashes(cluster.trace.events)  # a node that crashed by itself: say so, and why
        for judge in judges(cluster):
            await cluster.pause(judge)
        frozen_at = cluster.now()
        with trio.move_on_after(LEAVE_DEADLINE):
            await cluster.wait_for_status("lb", lambda s: not lb_healthy(s))
        still = lb_healthy(cluster.status_of("lb"))
        if still:
            raise CheckFailed(
                f"every judge froze at t={frozen_at:.3f} s, yet {LEAVE_DEADLINE:g} s later the "
                f"lb still had {', '.join(still)} in its rotation (its status healthy)"
            )
        all_out = cluster.now()
        await contest.submit_all(client, [make_submission(run) for _ in range(3)])
        await trio.sleep(max(0.0, frozen_at + frozen_for - cluster.now()))
        for judge in judges(cluster):
            await cluster.resume(judge)
        resumed_at = cluster.now()
        for judge in judges(cluster):
            given = sent_to(cluster, judge, "judge", all_out, resumed_at)
            if given:
                raise CheckFailed(
                    f"every judge froze at t={frozen_at:.3f} s and the lb took them all out of "
                    f"the rotation by t={all_out:.3f} s, yet it sent {judge} submissions to "
                    f"judge at {', '.join(given)}, before the judges were resumed at "
                    f"t={resumed_at:.3f} s. A judge out of the rotation gets no work: choose "
                    f"the judge once the queue has answered, not before"
                )
        await contest.expect_every_verdict(
            client,
            after=f"every judge was frozen from t={frozen_at:.3f} s to t={resumed_at:.3f} s.",
        )


@graded(points=1, seeds=20, budget=120)
async def test_a_judge_gets_work_only_once_it_has_passed_a_health_check(run: LabRun) -> None:
    """A judge frozen from the very start, before its first health check, gets no submission
    while frozen; the other judges judge them all."""
    frozen_for = run.random.uniform(0.8, 1.2)
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        victim = run.random.choice(judges(cluster))
        try:
            await cluster.pause(victim)  # before the lb's first health check reaches it
        except ConfigError:  # it crashed by itself as it started: say so, and why
            no_crashes(cluster.trace.events)
            raise
        paused_at = cluster.now()
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        count = run.random.randint(3, 5)
        await contest.submit_all(client, [make_submission(run) for _ in range(count)])
        await trio.sleep(max(0.0, paused_at + frozen_for - cluster.now()))
        await cluster.resume(victim)
        resumed_at = cluster.now()
        story = (
            f"{victim} was frozen from the very start (t={paused_at:.3f} s), before it could "
            f"answer a single health check, until t={resumed_at:.3f} s; {count} submissions "
            "were made meanwhile."
        )
        answered = [
            e.t
            for e in cluster.trace.of_kind("send")
            if e["src"] == victim and e["body"].get("type") == "health_ok"
        ]
        until = min([resumed_at, *answered])
        given = sent_to(cluster, victim, "judge", 0.0, until)
        if given:
            raise CheckFailed(
                f"{story} Yet the lb sent it submissions to judge at {', '.join(given)}, "
                f"before it had ever passed a health check. A judge gets work only once it "
                f"has passed one: start with an empty rotation (no judge is healthy until it "
                f"says so), and add a judge at its first passed check"
            )
        await contest.expect_every_verdict(client, after=story)


@graded(points=2, seeds=25, budget=150)
async def test_more_judges_judge_faster(run: LabRun) -> None:
    """The same 6 submissions, with 1 judge and with 3: three judges finish much sooner."""
    took: dict[int, float] = {}
    for count in (1, 3):
        async with judge_cluster(run, judges=count, delay=0.005, jitter=0.004) as cluster:
            client = await run.client(cluster)
            contest = Contest(run, cluster)
            await trio.sleep(0.3)  # every judge has passed its first health check
            began = cluster.now()
            await contest.submit_all(client, [make_submission(run, "primes") for _ in range(6)])
            await contest.wait_for_verdicts()
            took[count] = cluster.now() - began
            contest.check_each_recorded_once()
    figures = f"1 judge: {took[1]:.3f} s; 3 judges: {took[3]:.3f} s"
    if took[3] > 0.6 * took[1]:
        raise CheckFailed(
            f"6 submissions took {figures} to be judged: three judges must do it in at most "
            "60% of the time one takes. Do the judges work at the same time? (The lb must not "
            "wait for one verdict before it hands the next submission to another judge.)"
        )
    print(f"seed {run.seed}: {figures}")


@graded(points=2, seeds=20, budget=150)
async def test_a_frozen_judge_is_replaced_and_then_rejoins(run: LabRun) -> None:
    """A judge freezes mid-judging for longer than the visibility timeout: another judges its
    submission; it wakes, finishes its stale work harmlessly, and is given work again."""
    visibility: float = run.config["visibility_timeout"]
    frozen_for = visibility + run.random.uniform(0.5, 1.0)
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        schedule = run.schedule(cluster)
        stream_until = 0.3 + frozen_for + 2 * REJOIN_DEADLINE
        # A plan that lasts as long as the stream: a zombie fired by hand wakes from the plan's
        # background, which ends with the plan's last entry.
        schedule.at(stream_until, faults.heal())
        async with schedule.running(), trio.open_nursery() as nursery:
            nursery.start_soon(
                partial(keep_submitting, contest, client, every=0.15, until=stream_until)
            )
            await trio.sleep(0.3)
            busy = await first_event(
                cluster,
                lambda e: (
                    e.kind == "status" and e.t >= 0.3 and e["fields"].get("state") == "judging"
                ),
                seconds=3,
            )
            if busy is None:
                raise CheckFailed(
                    "no judge published state='judging' within 3 s of steady submissions: a "
                    "judge says when it starts judging (status(state='judging'))"
                )
            victim = str(busy["node"])
            doing = str(cluster.status_of(victim).get("judging"))
            await schedule.fire(faults.zombie(victim, seconds=frozen_for))
            frozen_at = cluster.now()
        woke_at = frozen_at + frozen_for
        story = (
            f"{victim} froze at t={frozen_at:.3f} s while judging {doing}, and woke at "
            f"t={woke_at:.3f} s, {frozen_for:.2f} s later."
        )
        try:
            await contest.expect_every_verdict(client)
        except CheckFailed as error:
            raise CheckFailed(f"{story} {error}") from None
    events = cluster.trace.events
    recorded = [
        e.t
        for e in events
        if e.kind == "status" and e["node"] == "dashboard" and e["fields"].get("recorded") == doing
    ]
    if doing in contest.accepted and (not recorded or recorded[0] > woke_at):
        when = f"only at t={recorded[0]:.3f} s" if recorded else "never"
        raise CheckFailed(
            f"{story} Its submission should have come back out of the queue a visibility "
            f"timeout ({visibility:g} s) after it was handed out, and been judged by another "
            f"judge while it was frozen; its verdict was recorded {when}"
        )
    back = within(
        events,
        after=woke_at,
        seconds=RETURN_DEADLINE + 0.2,
        node="lb",
        predicate=lambda s: victim in lb_healthy(s),
        what=f"{story} The lb puts it back in the rotation (its status healthy)",
    )
    given = sent_to(cluster, victim, "judge", back, back + REJOIN_DEADLINE)
    if not given:
        raise CheckFailed(
            f"{story} It was back in the lb's rotation at t={back:.3f} s, and submissions kept "
            f"coming (one every 0.15 s), yet the lb sent it none to judge in the "
            f"{REJOIN_DEADLINE:g} s that followed. Does the lb still count it busy with the "
            f"submission it never answered for? A judge that does not answer in time is free "
            f"again for the lb (the queue hands that submission out again anyway)"
        )


# -- on real sockets --------------------------------------------------------------------------


@graded(points=1, seeds=3, budget=60, runtime="live")
async def test_on_real_sockets(run: LabRun) -> None:
    """On real sockets and real time: every submission judged right, also with a judge crashed."""
    async with judge_cluster(run) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        await contest.submit_all(client, [make_submission(run) for _ in range(4)])
        await cluster.crash(run.random.choice(judges(cluster)))
        await contest.submit_all(client, [make_submission(run) for _ in range(4)])
        await contest.expect_every_verdict(client)


# -- efficiency (hidden) ----------------------------------------------------------------------


@graded(points=1, seeds=25, budget=150, visibility="hidden")
async def test_each_submission_is_judged_once_on_a_healthy_network(run: LabRun) -> None:
    """Without faults, no submission is sent to a judge twice: judging is the costly part."""
    async with judge_cluster(run, delay=0.005, jitter=0.004) as cluster:
        client = await run.client(cluster)
        contest = Contest(run, cluster)
        await contest.submit_all(client, [make_submission(run) for _ in range(6)])
        await contest.wait_for_verdicts()
        await trio.sleep(cluster.config["visibility_timeout"])  # any second judging, too
    sent: dict[str, list[str]] = {}
    for e in cluster.trace.of_kind("send"):
        if e["body"].get("type") == "judge":
            sent.setdefault(str(e["body"].get("id")), []).append(f"{e['dest']} at t={e.t:.3f} s")
    twice = {i: judges for i, judges in sent.items() if len(judges) > 1}
    if twice:
        said = "; ".join(f"{i} to {', '.join(judges)}" for i, judges in sorted(twice.items()))
        raise CheckFailed(
            f"on a network that lost nothing, {len(twice)} submissions were sent to a judge "
            f"more than once: {said}. A submission handed out must stay hidden while it is "
            "judged"
        )
