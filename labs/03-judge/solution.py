"""Lab 3 — judge: contest judging behind a load balancer, on a queue that loses nothing.

Read labs/03-judge/README.md first. Run it with ``distlab run 3``: the demo crashes a judge in
the middle of a judging run, crashes the queue and brings it back, and freezes another judge;
watch every accepted submission get its verdict all the same, exactly once.

One submission, message by message (the answers left out)::

    client ──submit──▶ frontend ──enqueue──▶ queue     (the client gets its id only after this)
                           lb ──receive──▶ queue        (the queue hides it; it does not forget it)
                           lb ──judge──▶ judge-2        (a judge that is healthy and free)
                      judge-2 ──record──▶ dashboard     (the verdict: kept once per submission)
                      judge-2 ──delete──▶ queue         (only now may the queue forget it)
    client ──query──▶ dashboard

Who keeps what: the queue keeps every submission, in durable storage, until a judge deletes it;
the dashboard keeps every verdict, durably too. Everything else may be lost in a crash, and is
redone: a submission whose judge dies comes back out of the queue when its visibility timeout
runs out, and another judge judges it. That is at-least-once delivery, and it means a submission
can be judged twice; the dashboard keeps the first verdict only, so each is *recorded* once.

Every node is single-threaded in the trio sense: between two ``await``s nothing else runs on it,
so the bookkeeping below needs no locks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeAlias

import trio

from distlab import Message, Node, RPCTimeoutError, handler

#: A submission as the queue keeps it: ``{"id": "s7", "problem": "sum", "answers": [...]}``.
Submission: TypeAlias = dict[str, Any]


# -- judging (given: the lab is about the service around it, not about judging) -----------------


def verdict_for(expected: list[str] | None, answers: list[str]) -> str:
    """The verdict on ``answers`` for a problem whose test cases expect ``expected``.

    No code is run: a submission carries its program's output on each test case, and judging
    compares them with the expected outputs, case by case.

    >>> verdict_for(["3", "7"], ["3", "7"])
    'accepted'
    >>> verdict_for(["3", "7"], ["3", "8"])
    'wrong answer on test 2'
    >>> verdict_for(None, ["42"])
    'unknown problem'
    """
    if expected is None:
        return "unknown problem"
    for case in range(max(len(expected), len(answers))):
        if case >= len(expected) or case >= len(answers) or answers[case] != expected[case]:
            return f"wrong answer on test {case + 1}"
    return "accepted"


def submission_of(body: Mapping[str, Any]) -> Submission:
    """The submission a message carries, without the message's own fields."""
    return {"id": body["id"], "problem": body["problem"], "answers": body["answers"]}


# -- the front end: accepts submissions ----------------------------------------------------------


class FrontEnd(Node):
    """Accepts each ``submit`` and answers with the submission's id, once it is safely queued.

    The id is a promise: "we have your submission, and it will be judged". So it goes back to
    the client only after the queue has confirmed that it keeps the submission (``enqueue_ok``),
    never before. Publishes ``accepted`` (how many) and ``last`` (the newest id).
    """

    def __init__(self) -> None:
        super().__init__()
        self.accepted = 0

    async def on_start(self) -> None:
        self.status(accepted=0)

    @handler("submit")
    async def on_submit(self, msg: Message) -> None:
        """Give the submission a new id, get it queued, and only then answer ``submit_ok``."""
        # SOLUTION: a new id; enqueue the submission (wait for the queue); then reply submit_ok
        submission = {
            "id": self.new_submission_id(),
            "problem": msg.body["problem"],
            "answers": msg.body["answers"],
        }
        await self.enqueue(submission)
        self.reply(msg, {"type": "submit_ok", "id": submission["id"]})
        self.accepted += 1
        self.status(accepted=self.accepted, last=submission["id"])
        # END SOLUTION

    def new_submission_id(self) -> str:
        """An id never given before, not even by an earlier incarnation of this front end.

        Two submissions with one id would share one verdict at the dashboard, so the count is
        kept in durable storage.
        """
        issued: int = self.storage.get("ids_issued", 0) + 1
        self.storage.put("ids_issued", issued)
        return f"s{issued}"

    async def enqueue(self, submission: Submission) -> None:
        """Send the submission to the queue until the queue confirms it keeps it.

        Silence may mean the queue is down (it will come back: wait for it) or a message was
        lost (ask again). Asking twice is harmless: the queue keeps one copy per id.
        """
        # SOLUTION: rpc enqueue to the queue, again after every timeout, until enqueue_ok
        timeout: float = self.config["timeout"]
        while True:
            try:
                await self.rpc("queue", {"type": "enqueue", **submission}, timeout=timeout)
                return
            except RPCTimeoutError:
                self.log.info(f"the queue did not confirm {submission['id']}; asking again")
        # END SOLUTION


# -- the queue: durable, at-least-once -----------------------------------------------------------


class Queue(Node):
    """A durable queue with at-least-once delivery, in the manner of Amazon SQS.

    ``receive`` hands out the oldest *visible* submission and hides it for
    ``config["visibility_timeout"]`` seconds; it is not removed. Only ``delete`` removes it,
    which a judge sends once the verdict is recorded. A judge that dies before that never
    deletes it: the submission becomes visible again, and is handed out again.

    The submissions are kept in ``self.storage`` before ``enqueue_ok`` is sent, so they survive
    the queue's own crash. Which of them are hidden is kept in memory only: after a restart every
    submission is visible at once, and those that were being judged may be judged twice. That is
    the price of at-least-once, and the dashboard pays it (it records one verdict per id).

    Publishes ``depth`` (visible submissions, waiting for a judge) and ``in_flight`` (hidden:
    being judged).
    """

    def __init__(self) -> None:
        super().__init__()
        # Set up here rather than in on_start: on_start runs as a task of its own, and a
        # request may be handled before it has run.
        self.submissions: dict[str, Submission] = self.load()  # id -> submission, oldest first
        self.hidden_until: dict[str, float] = {}  # id -> when it becomes visible again
        self.published: dict[str, int] = {}  # the depth and in_flight last published

    async def on_start(self) -> None:
        self.publish_depth()

    # -- durable storage ---------------------------------------------------------------------

    def load(self) -> dict[str, Submission]:
        """The submissions kept by earlier incarnations of this queue, oldest first."""
        # SOLUTION: read the list saved in storage (empty the first time) into a dict by id
        return {submission["id"]: submission for submission in self.storage.get("submissions", [])}
        # END SOLUTION

    def save(self) -> None:
        """Write every submission kept to durable storage; it survives a crash once this returns.

        As a list, in arrival order: the oldest is handed out first, after a restart too.
        """
        # SOLUTION: put the submissions, as a list in arrival order, in storage
        self.storage.put("submissions", list(self.submissions.values()))
        # END SOLUTION

    # -- the three requests ------------------------------------------------------------------

    @handler("enqueue")
    async def on_enqueue(self, msg: Message) -> None:
        """Keep a submission, durably, then confirm it with ``enqueue_ok``.

        The front end may send the same submission twice (it asks again when the confirmation
        is slow): keep one copy per id, and confirm every time.
        """
        # SOLUTION: keep it once per id and save, before replying enqueue_ok
        submission = submission_of(msg.body)
        if submission["id"] not in self.submissions:
            self.submissions[submission["id"]] = submission
            self.save()  # before the confirmation: it is a promise
        self.reply(msg, {"type": "enqueue_ok", "id": submission["id"]})
        self.publish_depth()
        # END SOLUTION

    @handler("receive")
    async def on_receive(self, msg: Message) -> None:
        """Hand out the oldest visible submission, hidden from now on for a while; or none.

        Answers ``receive_ok`` with ``submission``: the submission, or None if none is visible.
        The submission stays in the queue: only hidden, for ``config["visibility_timeout"]``
        seconds.
        """
        # SOLUTION: find the oldest visible submission; hide it until now + visibility_timeout
        submission = self.oldest_visible()
        if submission is not None:
            self.hidden_until[submission["id"]] = self.now() + self.config["visibility_timeout"]
        self.reply(msg, {"type": "receive_ok", "submission": submission})
        self.publish_depth()
        # END SOLUTION

    @handler("delete")
    async def on_delete(self, msg: Message) -> None:
        """Forget a submission for good (its verdict is recorded); confirm with ``delete_ok``.

        A submission judged twice is deleted twice: deleting what is gone is fine.
        """
        # SOLUTION: remove it (and save) if still there; reply delete_ok either way
        submission_id = msg.body["id"]
        if self.submissions.pop(submission_id, None) is not None:
            self.save()
        self.hidden_until.pop(submission_id, None)
        self.reply(msg, {"type": "delete_ok", "id": submission_id})
        self.publish_depth()
        # END SOLUTION

    # -- visibility --------------------------------------------------------------------------

    def is_visible(self, submission_id: str) -> bool:
        """Whether a submission may be handed out: never handed out, or its hiding has expired."""
        return self.hidden_until.get(submission_id, -math.inf) <= self.now()

    def oldest_visible(self) -> Submission | None:
        """The submission to hand out next: the oldest visible one (None if none is)."""
        return next((s for i, s in self.submissions.items() if self.is_visible(i)), None)

    def publish_depth(self) -> None:
        """Publish ``depth`` and ``in_flight``, when they have changed (not at every request).

        Called at every request: hidden submissions become visible again as time passes, and
        the lb's polling (``receive``) keeps the figures up to date.
        """
        visible = sum(1 for i in self.submissions if self.is_visible(i))
        figures = {"depth": visible, "in_flight": len(self.submissions) - visible}
        if figures != self.published:
            self.published = figures
            self.status(**figures)


# -- the load balancer: feeds healthy judges -----------------------------------------------------


class LoadBalancer(Node):
    """Takes submissions out of the queue and hands each to a judge that is healthy and free.

    Health is checked at the application level: every ``config["health_interval"]`` seconds the
    lb asks each judge ``health``, and a judge passes only if it answers that its judging is
    making progress, which a process that is merely up cannot fake. After
    ``config["unhealthy_after"]`` failed checks in a row a judge leaves the rotation; one passed
    check brings it back. Each change, and every ``config["report_interval"]`` seconds, the lb
    reports the judges' health to the dashboard.

    A judge gets one submission at a time. The lb waits for its verdict at most as long as the
    queue hides the submission: after that, the queue hands it out again anyway.

    Publishes ``healthy`` (the judges in the rotation) and ``busy`` (those judging for it now).
    """

    def __init__(self) -> None:
        super().__init__()
        self.healthy: set[str] = set()  # the judges in the rotation; none until checked
        self.failed_checks: dict[str, int] = {}  # judge -> failed checks in a row
        self.busy: set[str] = set()  # judges judging a submission this lb gave them
        self.turn = 0  # where the rotation starts looking for the next judge
        self.judges_changed = trio.Event()  # set (and replaced) when a judge frees up or heals

    async def on_start(self) -> None:
        self.status(healthy=[], busy=[])
        self.spawn(self.check_health)  # a first round now: no judge gets work before it passes
        self.every(self.config["health_interval"], self.check_health)
        self.every(self.config["report_interval"], self.report_health)
        self.spawn(self.dispatch_forever)

    # -- dispatching -------------------------------------------------------------------------

    async def dispatch_forever(self) -> None:
        """Feed the judges, for as long as the lb runs.

        Wait until a judge is free, take a submission from the queue, and hand it to the next
        free judge in rotation, in a task of its own so that the lb can feed the others
        meanwhile. (Look for a free judge again after the queue answers: while we waited, the
        one we saw may have fallen ill or been given work.)
        """
        # SOLUTION: loop: wait for a free judge, take a submission, assign it to the next judge
        while True:
            await self.wait_for_a_free_judge()
            submission = await self.take_submission()
            await self.wait_for_a_free_judge()
            self.assign(self.next_free_judge(), submission)
        # END SOLUTION

    def is_free(self, judge: str) -> bool:
        """Whether ``judge`` may be given a submission now: in the rotation, and not busy."""
        return judge in self.healthy and judge not in self.busy

    async def wait_for_a_free_judge(self) -> None:
        """Return once some judge is free (at once if one is)."""
        while not any(self.is_free(judge) for judge in self.nodes_with_role("judge")):
            await self.judges_changed.wait()

    def notify_judges_changed(self) -> None:
        """Wake whoever waits for a free judge, and publish the rotation."""
        self.judges_changed.set()
        self.judges_changed = trio.Event()
        self.status(healthy=sorted(self.healthy), busy=sorted(self.busy))

    def next_free_judge(self) -> str:
        """The next judge in rotation that is healthy and free (there must be one)."""
        # SOLUTION: round robin from self.turn over the judges, skipping those not free
        judges = self.nodes_with_role("judge")
        for step in range(len(judges)):
            judge = judges[(self.turn + step) % len(judges)]
            if self.is_free(judge):
                self.turn = (self.turn + step + 1) % len(judges)
                return judge
        raise RuntimeError("next_free_judge() called while no judge is free")
        # END SOLUTION

    async def take_submission(self) -> Submission:
        """The next submission from the queue, which hides it for us; ask until there is one.

        Between two empty answers, wait ``config["poll_interval"]`` seconds; after a silence
        (the queue may be down, or a message lost), just ask again.
        """
        # SOLUTION: rpc receive until the answer carries a submission; pause when it is empty
        while True:
            try:
                reply = await self.rpc("queue", {"type": "receive"}, timeout=self.config["timeout"])
            except RPCTimeoutError:
                continue
            submission: Submission | None = reply.body["submission"]
            if submission is not None:
                return submission
            await self.sleep(self.config["poll_interval"])
        # END SOLUTION

    def assign(self, judge: str, submission: Submission) -> None:
        """Mark the judge busy and have it judge the submission, in the background."""
        self.busy.add(judge)
        self.notify_judges_changed()
        self.spawn(self.have_judged, judge, submission)

    async def have_judged(self, judge: str, submission: Submission) -> None:
        """Send ``judge`` the submission and wait for its ``judge_ok``; then it is free again.

        Wait at most ``config["visibility_timeout"]`` seconds: by then the queue hands the
        submission out again, so there is nothing to retry here. Whether the judge is still fit
        for work is for the health checks to say.
        """
        # SOLUTION: rpc judge (visibility_timeout); log a silence; finally: not busy, notify
        try:
            reply = await self.rpc(
                judge, {"type": "judge", **submission}, timeout=self.config["visibility_timeout"]
            )
            self.log.info(f"{judge} judged {submission['id']}: {reply.body.get('verdict')}")
        except RPCTimeoutError:
            self.log.info(
                f"{judge} did not finish {submission['id']} in time; the queue will hand it out "
                "again"
            )
        finally:
            self.busy.discard(judge)
            self.notify_judges_changed()
        # END SOLUTION

    # -- health ------------------------------------------------------------------------------

    async def check_health(self) -> None:
        """One round of health checks: every judge at once."""
        async with trio.open_nursery() as nursery:
            for judge in self.nodes_with_role("judge"):
                nursery.start_soon(self.check_judge, judge)

    async def check_judge(self, judge: str) -> None:
        """Ask ``judge`` whether its judging is working; count the answer as passed or failed.

        Silence fails the check too: a crashed or frozen judge does not answer.
        """
        # SOLUTION: rpc health (config["health_timeout"]); passed iff it answers healthy=True
        try:
            reply = await self.rpc(judge, {"type": "health"}, timeout=self.config["health_timeout"])
        except RPCTimeoutError:
            self.check_failed(judge, "no answer")
            return
        if reply.body.get("healthy") is True:
            self.check_passed(judge)
        else:
            self.check_failed(judge, "its judging is stuck")
        # END SOLUTION

    def check_passed(self, judge: str) -> None:
        """A passed check: the judge is (back) in the rotation."""
        # SOLUTION: reset its failed checks; if it was out: add it, notify, report_health_soon
        self.failed_checks[judge] = 0
        if judge not in self.healthy:
            self.healthy.add(judge)
            self.log.info(f"{judge} passed its health check: in the rotation")
            self.notify_judges_changed()
            self.report_health_soon()
        # END SOLUTION

    def check_failed(self, judge: str, why: str) -> None:
        """A failed check: after ``config["unhealthy_after"]`` in a row, out of the rotation."""
        # SOLUTION: count it; at unhealthy_after in a row: remove it, notify, report_health_soon
        self.failed_checks[judge] = self.failed_checks.get(judge, 0) + 1
        if judge in self.healthy and self.failed_checks[judge] >= self.config["unhealthy_after"]:
            self.healthy.discard(judge)
            self.log.warning(f"{judge} failed {self.failed_checks[judge]} checks ({why}): out")
            self.notify_judges_changed()
            self.report_health_soon()
        # END SOLUTION

    def report_health_soon(self) -> None:
        self.spawn(self.report_health)

    async def report_health(self) -> None:
        """Tell the dashboard each judge's health, as the lb sees it.

        A plain ``send``: a lost report is made good by the next one, at most
        ``config["report_interval"]`` seconds later.
        """
        # SOLUTION: send health_report with judges={judge: "healthy" | "unhealthy"} to dashboard
        judges = {
            judge: "healthy" if judge in self.healthy else "unhealthy"
            for judge in self.nodes_with_role("judge")
        }
        self.send("dashboard", {"type": "health_report", "judges": judges})
        # END SOLUTION


# -- a judge -------------------------------------------------------------------------------------


class Judge(Node):
    """Judges the submissions the lb sends, one at a time, in a judging loop.

    For each: run the sandbox, record the verdict at the dashboard, then delete the submission
    from the queue, in that order. Deleting first would lose the submission if the judge died
    before the verdict was recorded. Then it answers the lb with ``judge_ok``.

    The loop is a task of its own, fed through a trio memory channel, so that the node keeps
    answering messages (the lb's health checks) whatever the loop is doing. That is what makes
    an honest health check possible: ``health`` answers ``healthy=False`` when the sandbox has
    been running much longer than any run should.

    Publishes ``state`` (``idle`` or ``judging``), ``judging`` (the id), ``judged`` (how many),
    and ``sandbox="hung"`` while a wedged run hangs.
    """

    def __init__(self) -> None:
        super().__init__()
        # The judging loop's inbox: the lb's judge requests, each answered when it is judged.
        self.inbox_in, self.inbox_out = trio.open_memory_channel[Message](math.inf)
        self.sandbox_since: float | None = None  # when the current sandbox run began
        self.wedged_for = 0.0  # seconds the next sandbox run will hang (see on_wedge)
        self.judged = 0

    async def on_start(self) -> None:
        self.status(state="idle", judged=0)
        self.spawn(self.judging_loop)

    @handler("judge")
    async def on_judge(self, msg: Message) -> None:
        """Hand the lb's request to the judging loop, which answers it when judged."""
        # SOLUTION: put the message in the loop's inbox
        self.inbox_in.send_nowait(msg)
        # END SOLUTION

    async def judging_loop(self) -> None:
        """Judge the requests of the inbox, one after another, for as long as the node runs."""
        # SOLUTION: for each request in the inbox, judge it
        async for request in self.inbox_out:
            await self.judge_one(request)
        # END SOLUTION

    async def judge_one(self, request: Message) -> None:
        """Judge one submission, record its verdict, delete it from the queue, answer the lb."""
        # SOLUTION: run_sandbox; record; delete only if recorded; reply judge_ok; publish
        submission = submission_of(request.body)
        self.status(state="judging", judging=submission["id"])
        verdict = await self.run_sandbox(submission)
        if await self.record(submission["id"], verdict):
            # Only now may the queue forget it. If recording failed, the queue hands the
            # submission out again, later: judged twice, but never lost.
            await self.delete(submission["id"])
        self.judged += 1
        self.status(state="idle", judging=None, judged=self.judged)
        self.reply(request, {"type": "judge_ok", "id": submission["id"], "verdict": verdict})
        # END SOLUTION

    async def record(self, submission_id: str, verdict: str) -> bool:
        """Record the verdict at the dashboard; False if the dashboard stayed silent."""
        body = {"type": "record", "id": submission_id, "verdict": verdict}
        return await self.ask_until_answered("dashboard", body)

    async def delete(self, submission_id: str) -> bool:
        """Delete the submission from the queue; False if the queue stayed silent."""
        return await self.ask_until_answered("queue", {"type": "delete", "id": submission_id})

    async def ask_until_answered(self, dest: str, body: Mapping[str, Any]) -> bool:
        """rpc ``body`` to ``dest`` until it answers (True), at most ``attempts`` times (False).

        Giving up is safe here: a verdict not recorded means a submission not deleted, and a
        submission not deleted comes back out of the queue, to be judged again. Retrying
        forever instead would keep this judge from judging anything else.
        """
        # SOLUTION: rpc with config["timeout"], up to config["attempts"] times; True once answered
        timeout: float = self.config["timeout"]
        for _ in range(self.config["attempts"]):
            try:
                await self.rpc(dest, body, timeout=timeout)
                return True
            except RPCTimeoutError:
                self.log.info(f"{dest} did not answer {body['type']} {body['id']}; again")
        return False
        # END SOLUTION

    # -- health ------------------------------------------------------------------------------

    @handler("health")
    async def on_health(self, msg: Message) -> None:
        """Answer the lb's health check: ``health_ok`` with ``healthy`` (see is_working)."""
        # SOLUTION: reply health_ok, healthy=is_working()
        self.reply(msg, {"type": "health_ok", "healthy": self.is_working()})
        # END SOLUTION

    def is_working(self) -> bool:
        """Whether the judging loop makes progress: no sandbox run longer than ``stuck_after``.

        An idle judge is working (it is ready); so is one in the middle of a normal run. One
        whose run has lasted longer than ``config["stuck_after"]`` seconds is stuck, although
        its process is up and answers this very check.
        """
        # SOLUTION: idle, or the current sandbox run began less than stuck_after seconds ago
        stuck_after: float = self.config["stuck_after"]
        return self.sandbox_since is None or self.now() - self.sandbox_since < stuck_after
        # END SOLUTION

    # -- the sandbox (given) -----------------------------------------------------------------

    async def run_sandbox(self, submission: Submission) -> str:
        """Judge a submission against its problem's test cases, and return the verdict.

        The sandbox's work is simulated: ``config["seconds_per_case"]`` for each test case.
        A wedged sandbox (see ``on_wedge``) hangs that much longer first, as a real one does
        when the program under test never ends and nothing kills it. Meanwhile the node goes on
        answering messages, so only an honest health check notices. ``sandbox_since`` says
        when the current run began.
        """
        expected: list[str] | None = self.config["problems"].get(submission["problem"])
        cases = len(expected) if expected is not None else 1
        hang, self.wedged_for = self.wedged_for, 0.0
        self.sandbox_since = self.now()
        try:
            if hang > 0:
                self.log.warning(f"the sandbox hangs on {submission['id']} for {hang:g} s")
                self.status(sandbox="hung")
                await self.sleep(hang)
                self.status(sandbox="ok")
            await self.sleep(cases * self.config["seconds_per_case"])
        finally:
            self.sandbox_since = None
        return verdict_for(expected, submission["answers"])

    @handler("wedge")
    async def on_wedge(self, msg: Message) -> None:
        """(Given: the graded tests and the demo use it.) The next sandbox run hangs ``seconds``."""
        self.wedged_for = float(msg.body["seconds"])
        self.log.warning(f"wedged: the next sandbox run will hang for {self.wedged_for:g} s")
        self.reply(msg, {"type": "wedge_ok"})


# -- the dashboard: verdicts and judges' health --------------------------------------------------


class Dashboard(Node):
    """Keeps each submission's verdict, and each judge's health; answers ``query``.

    A submission may be judged more than once (the queue delivers at least once), so the
    dashboard keeps the *first* verdict for each id and answers later ones with
    ``record_ok`` all the same. Verdicts are kept in durable storage, one key per submission.

    Publishes ``verdicts`` (how many recorded), ``unhealthy`` (the judges the lb last reported
    out of the rotation) and, each time it records a verdict, ``recorded=<id>`` (the graded tests
    read it from the trace to check that each submission is recorded exactly once).
    """

    def __init__(self) -> None:
        super().__init__()
        self.verdicts = sum(1 for key in self.storage if key.startswith("verdict/"))
        self.judges: dict[str, str] = {}  # judge -> "healthy" | "unhealthy", as last reported

    async def on_start(self) -> None:
        self.status(verdicts=self.verdicts, unhealthy=[])

    @handler("record")
    async def on_record(self, msg: Message) -> None:
        """Keep a verdict, if it is the submission's first; answer ``record_ok`` either way.

        The first one is stored (``verdict/<id>``: the verdict and the judge) and published
        (``recorded=<id>``, and the new ``verdicts`` count); a later one is only logged.
        """
        # SOLUTION: if verdict/<id> is not stored yet, store it and publish recorded; reply
        submission_id, verdict = msg.body["id"], msg.body["verdict"]
        key = f"verdict/{submission_id}"
        first = self.storage.get(key)
        if first is None:
            self.storage.put(key, {"verdict": verdict, "judge": msg.src})
            self.verdicts += 1
            self.status(verdicts=self.verdicts, recorded=submission_id)
        else:
            self.log.info(
                f"{submission_id} judged again by {msg.src}; its verdict is already recorded "
                f"(by {first['judge']}): kept as it was"
            )
        self.reply(msg, {"type": "record_ok", "id": submission_id})
        # END SOLUTION

    @handler("query")
    async def on_query(self, msg: Message) -> None:
        """Answer ``query_ok`` with the submission's ``verdict`` (None: not judged yet)."""
        # SOLUTION: reply query_ok with the stored verdict and judge, or None
        submission_id = msg.body["id"]
        recorded = self.storage.get(f"verdict/{submission_id}") or {}
        self.reply(
            msg,
            {
                "type": "query_ok",
                "id": submission_id,
                "verdict": recorded.get("verdict"),
                "judge": recorded.get("judge"),
            },
        )
        # END SOLUTION

    @handler("health_report")
    async def on_health_report(self, msg: Message) -> None:
        """The lb's view of the judges' health: keep it, and publish who is out."""
        # SOLUTION: keep the judges' health; publish unhealthy (sorted) when it changes
        judges: dict[str, str] = dict(msg.body["judges"])
        if judges != self.judges:
            self.judges = judges
            self.status(unhealthy=sorted(j for j, health in judges.items() if health != "healthy"))
        # END SOLUTION
