"""Lab 3's demo client: a contestant. The lab provides it: you write the judging service.

It submits answers to the contest's problems, some right and some wrong on purpose, then asks
the dashboard for each verdict until it has them all, and checks each one. The graded tests do
not use it (they set ``client_submissions = 0``): they send their own submissions.
"""

from typing import Any

from distlab import Node, RPCTimeoutError


def expected_verdict(expected: list[str], answers: list[str]) -> str:
    """The verdict a correct judge gives, computed here and not by the code under test."""
    if answers == expected:
        return "accepted"
    cases = max(len(expected), len(answers))
    first_wrong = next(
        case
        for case in range(cases)
        if case >= len(expected) or case >= len(answers) or answers[case] != expected[case]
    )
    return f"wrong answer on test {first_wrong + 1}"


class ContestantClient(Node):
    """Makes ``config["client_submissions"]`` submissions, then collects and checks each verdict.

    A submission gets an id only once the service has queued it: without an answer within
    ``config["client_timeout"]`` seconds it is submitted again (the first may have been
    accepted too, under another id; the client keeps the id it was given). Publishes
    ``accepted`` (how many got an id), ``right`` and ``wrong`` (how many verdicts were, and
    were not, what a correct judge says), ``pending`` (ids still without a verdict) and
    ``done``.
    """

    async def on_start(self) -> None:
        self.spawn(self.take_part)

    async def take_part(self) -> None:
        wanted: int = self.config["client_submissions"]
        self.status(accepted=0, right=0, wrong=0, pending=[], done=wanted == 0)
        expected: dict[str, str] = {}  # id -> the verdict it should get
        for _ in range(wanted):
            problem, answers, verdict = self.make_submission()
            submission_id = await self.submit(problem, answers)
            expected[submission_id] = verdict
            self.status(accepted=len(expected), pending=sorted(expected))
            await self.sleep(self.config["client_pause"])
        await self.collect_verdicts(expected)

    def make_submission(self) -> tuple[str, list[str], str]:
        """A random problem, answers (wrong on one case, sometimes), and the verdict they earn."""
        problems: dict[str, list[str]] = self.config["problems"]
        problem = self.random.choice(sorted(problems))
        answers = list(problems[problem])
        if self.random.random() < self.config["client_wrong"]:
            answers[self.random.randrange(len(answers))] = "42?"
        return problem, answers, expected_verdict(problems[problem], answers)

    async def submit(self, problem: str, answers: list[str]) -> str:
        """Submit until the front end answers with an id."""
        body = {"type": "submit", "problem": problem, "answers": answers}
        while True:
            reply = await self.ask("frontend", body)
            if reply is not None:
                return str(reply["id"])

    async def collect_verdicts(self, expected: dict[str, str]) -> None:
        """Ask the dashboard for each verdict, again and again, until every one is known."""
        right = wrong = 0
        pending = sorted(expected)
        while pending:
            for submission_id in list(pending):
                reply = await self.ask("dashboard", {"type": "query", "id": submission_id})
                verdict = None if reply is None else reply.get("verdict")
                if verdict is None:
                    continue
                pending.remove(submission_id)
                if verdict == expected[submission_id]:
                    right += 1
                else:
                    wrong += 1
                    self.log.warning(
                        f"{submission_id} got {verdict!r}, but deserved {expected[submission_id]!r}"
                    )
            self.status(right=right, wrong=wrong, pending=pending, done=not pending)
            if pending:
                await self.sleep(self.config["client_pause"])

    async def ask(self, dest: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """One request; its answer's body, or None after ``config["client_timeout"]`` s."""
        try:
            reply = await self.rpc(dest, body, timeout=self.config["client_timeout"])
        except RPCTimeoutError:
            self.log.info(f"no answer from {dest} to {body['type']}; will ask again")
            return None
        return dict(reply.body)
