"""A submission that does nothing, but patches the grader at import to pass every seed."""

import distlab.grading._graded
from distlab import Node
from distlab.grading._results import SeedResult


def always_passes(self, seed, **kwargs):  # type: ignore[no-untyped-def]
    return SeedResult(seed, "passed")


distlab.grading._graded.GradedTest.run_seed = always_passes  # type: ignore[method-assign]
distlab.grading._graded._verdict = lambda exc: ("passed", "")  # type: ignore[assignment]


class PingServer(Node):
    pass


class PingClient(Node):
    pass
