"""distlab's grader: graded lab tests, checkers, fault schedules, and reports.

Lab tests import from here::

    from distlab.grading import CheckFailed, LabRun, graded, no_crashes
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
from ._linearizability import (
    Linearizability,
    LinearizabilityFailed,
    Operation,
    check_linearizable,
    linearizability,
)
from ._lock_checks import (
    ClientHold,
    client_lock_holds,
    leaders_elected_by_a_majority,
    no_grant_after_a_newer_leader,
    one_holder_at_a_time,
    one_vote_per_term,
)
from ._models import (
    UNKNOWN,
    KeyValueModel,
    LeaseLockModel,
    LockModel,
    Model,
    OpInput,
    RegisterModel,
    lease_read,
    standard_read,
)
from ._replica_checks import (
    ReplicaOps,
    ReplicaRead,
    ReplicaWrite,
    acknowledged_writes,
    acknowledged_writes_kept,
    acknowledged_writes_ordered,
    answered_reads,
    converged_within,
    descends,
    merge_versions,
    session_guarantees,
    stale_reads_within,
    version_words,
    versioned_kv_read,
)
from ._results import CheckFailed, GradeReport, SeedResult, TestResult
from ._schedule import FaultSchedule
from ._verdict_checks import answers_match, answers_never_change, no_value_given_twice
from ._waits import first_event

__all__ = [
    "UNKNOWN",
    "CheckFailed",
    "Client",
    "ClientHold",
    "FaultSchedule",
    "GradeOptions",
    "GradeReport",
    "GradedTest",
    "History",
    "KeyValueModel",
    "LabRun",
    "LeaseLockModel",
    "Linearizability",
    "LinearizabilityFailed",
    "LockModel",
    "Model",
    "Op",
    "OpInput",
    "Operation",
    "RegisterModel",
    "ReplicaOps",
    "ReplicaRead",
    "ReplicaWrite",
    "SeedResult",
    "TestResult",
    "acknowledged_writes",
    "acknowledged_writes_kept",
    "acknowledged_writes_ordered",
    "answered_reads",
    "answers_match",
    "answers_never_change",
    "at_most_one_holder",
    "at_most_one_per_term",
    "check_linearizable",
    "check_message_fates",
    "client_lock_holds",
    "converged_within",
    "crashed_by_itself",
    "descends",
    "effects_from_status",
    "exactly_once",
    "expect_equal",
    "faults",
    "first_event",
    "grade",
    "graded",
    "heal_time",
    "latency_percentile",
    "leaders_elected_by_a_majority",
    "lease_read",
    "linearizability",
    "merge_versions",
    "messages_per_operation",
    "no_crashes",
    "no_grant_after_a_newer_leader",
    "no_value_given_twice",
    "one_holder_at_a_time",
    "one_vote_per_term",
    "session_guarantees",
    "stale_reads_within",
    "standard_read",
    "status_at",
    "version_words",
    "versioned_kv_read",
    "within",
]
