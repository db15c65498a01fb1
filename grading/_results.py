"""A grading run's results as plain data: what every report format is rendered from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

Visibility: TypeAlias = Literal["visible", "hidden", "after_due_date", "after_published"]
#: passed; failed (a check failed); error (the test itself broke, or the implementation could not
#: be loaded); timeout (the time budget ran out); memory (the memory limit was exceeded);
#: not_run (the grader was interrupted before reaching it).
Outcome: TypeAlias = Literal["passed", "failed", "error", "timeout", "memory", "not_run"]


class CheckFailed(AssertionError):
    """A checker found the implementation wrong; the message says what, when and where."""


@dataclass(frozen=True)
class SeedResult:
    seed: int
    outcome: Outcome
    message: str = ""  # why it failed, in plain words ("" when it passed)
    seconds: float = 0.0  # wall-clock time the seed took
    events: int = 0  # trace events recorded
    trace: str | None = None  # path of the trace file kept for a failing seed
    replay: str | None = None  # the one command that replays exactly this run
    #: SHA-256 of the seed's trace (JSONL): two runs of one seed that differ here are not the
    #: same run (the grader reruns a failing seed and compares)
    digest: str = ""
    #: wall-clock and unseeded-random calls the student's code made, in words with file:line
    nondeterminism: list[str] = field(default_factory=list)


#: why a test did not run when the whole grade could not: the report's error says the rest
NOT_RUN_AFTER_ERROR = "not run: the implementation could not be graded (the error above)"


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class

    name: str
    description: str
    points: float
    visibility: Visibility
    budget: float  # seconds allowed for all its seeds
    seeds_planned: int
    seeds: list[SeedResult] = field(default_factory=list)
    outcome: Outcome = "not_run"
    message: str = ""  # the first failure's message, or why the test could not run
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    @property
    def pass_rate(self) -> float:
        return sum(s.outcome == "passed" for s in self.seeds) / max(1, self.seeds_planned)

    @property
    def first_failure(self) -> SeedResult | None:
        return next((s for s in self.seeds if s.outcome != "passed"), None)


@dataclass(frozen=True)
class GradeReport:
    lab: str
    impl: str
    tests: list[TestResult]
    seconds: float
    versions: dict[str, str]
    interrupted: bool = False
    error: str = ""  # why grading could not even start (no such lab, a bad option...)
    #: processes the submission left running, killed by the grader before it reported (each
    #: ``pid 1234 `command```); they cost no points, the verdicts were decided without them
    leftovers: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def full_marks(self) -> bool:
        return (
            not self.interrupted
            and not self.error
            and bool(self.tests)
            and all(t.passed for t in self.tests)
        )

    @property
    def warnings(self) -> list[str]:
        """Every wall-clock or unseeded-random call any seed recorded, once each, in order.

        They need not have failed a test (a run can pass by luck): they are why a seed could
        give another run next time.
        """
        calls = (c for t in self.tests for s in t.seeds for c in s.nondeterminism)
        return list(dict.fromkeys(calls))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: every field, plus the computed scores and the warnings."""
        return {
            "lab": self.lab,
            "impl": self.impl,
            "score": self.score,
            "max_score": self.max_score,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "error": self.error,
            "versions": self.versions,
            "leftovers": list(self.leftovers),
            "warnings": self.warnings,
            "tests": [
                {**asdict(t), "score": t.score, "pass_rate": t.pass_rate} for t in self.tests
            ],
        }
