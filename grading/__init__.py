"""distlab's grader: graded lab tests, checkers, fault schedules, and reports.

Lab tests import from here::

    from grading import CheckFailed, LabRun, graded, no_crashes
"""

from . import faults
from ._checks import (
    at_most_one_holder,
    at_most_one_per_term,
    crashed_by_itself,
    effects_from_status,
    exactly_once,
    expect_equal,
    heal_time,
    latency_percentile,
    messages_per_operation,
    no_crashes,
    status_at,
    within,
)
from ._fates import check_message_fates
from ._graded import Client, GradedTest, LabRun, graded
from ._grader import GradeOptions, grade
from ._history import History, Op
from ._results import CheckFailed, GradeReport, SeedResult, TestResult
from ._schedule import FaultSchedule
from ._waits import first_event

__all__ = [
    "CheckFailed",
    "Client",
    "FaultSchedule",
    "GradeOptions",
    "GradeReport",
    "GradedTest",
    "History",
    "LabRun",
    "Op",
    "SeedResult",
    "TestResult",
    "at_most_one_holder",
    "at_most_one_per_term",
    "check_message_fates",
    "crashed_by_itself",
    "effects_from_status",
    "exactly_once",
    "expect_equal",
    "faults",
    "first_event",
    "grade",
    "graded",
    "heal_time",
    "latency_percentile",
    "messages_per_operation",
    "no_crashes",
    "status_at",
    "within",
]
