"""Lab 3's graded tests.

Each test starts the judging service from the implementation being graded (the lab's demo
client stays idle: ``client_submissions = 0``), submits its own submissions from harness clients
(``run.client``), and checks what the service promised: every submission that was given an id
gets exactly one verdict recorded at the dashboard (its ``recorded`` status, read from the
trace), and the right one (asked with ``query``). Part C reads the health the lb publishes
(``healthy``) and the dashboard shows (``unhealthy``).

Every wait is bounded, so an implementation that never answers fails in plain words instead of
running out of time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

import trio

from distlab import Cluster, TraceEvent
from grading import (
    CheckFailed,
    Client,
    LabRun,
    crashed_by_itself,
    effects_from_status,
    exactly_once,
    expect_equal,
    first_event,
    graded,
    no_crashes,
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


# -- helpers ----------------------------------------------------------------------------------


def judge_cluster(
    run: LabRun, *, judges: int | None = None, **network: Any
) -> AbstractAsyncContextManager[Cluster]:
    """The lab's cluster with the demo client idle; ``network`` settings as for run.cluster."""
    counts = {"judge": judges} if judges is not None else None
    return run.cluster(config={"client_submissions": 0}, counts=counts, **network)


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
        for kind in ("enqueue_ok", "judge", "record", "delete"):
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

    async def check_verdicts(self, client: Client) -> None:
        """Ask the dashboard for every accepted submission's verdict: each must be right."""
        for submission_id, submission in self.accepted.items():
            reply = await client.call(
                "dashboard", {"type": "query", "id": submission_id}, timeout=CLIENT_TIMEOUT
            )
            if reply is None:
                raise CheckFailed(
                    f"the dashboard did not answer a query for {submission_id} within "
                    f"{CLIENT_TIMEOUT:g} s (at t={self.cluster.now():.3f} s)"
                )
            expected = problems(self.run).get(submission["problem"])
            expect_equal(
                reply.body.get("verdict"),
                right_verdict(expected, submission["answers"]),
                what=f"the verdict the dashboard gave for {submission_id} (problem "
                f"{submission['problem']!r}, answers {submission['answers']})",
            )


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


@graded(points=2, seeds=100, budget=150)
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


@graded(points=2, seeds=100, budget=150)
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


# -- Part B: nothing accepted is lost ---------------------------------------------------------


@graded(points=3, seeds=100, budget=150)
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


@graded(points=3, seeds=100, budget=150)
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


@graded(points=2, seeds=100, budget=150)
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


@graded(points=3, seeds=100, budget=150)
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


@graded(points=3, seeds=100, budget=150)
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


@graded(points=1, seeds=100, budget=150)
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


@graded(points=2, seeds=100, budget=150)
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


# -- on real sockets --------------------------------------------------------------------------


@graded(points=1, seeds=3, budget=40, runtime="live")
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


@graded(points=1, seeds=100, budget=150, visibility="hidden")
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
