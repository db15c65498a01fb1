"""The grader's checkers: each passes a sound run and explains a bad one with times and nodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
from nodes import Echo, Fragile, Pinger

from distlab import ClusterSpec, NodeSpec, TraceEvent, open_cluster, run_simulated
from distlab.grading._checks import (
    Hold,
    at_most_one_holder,
    at_most_one_per_term,
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
from distlab.grading._history import History
from distlab.grading._results import CheckFailed
from distlab.grading._waits import first_event


class Trace:
    """Builds a trace by hand: ``tr(1.5, "status", node="a", fields={...})``."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def __call__(self, t: float, kind: str, **fields: Any) -> Trace:
        self.events.append(TraceEvent(len(self.events) + 1, t, kind, fields))
        return self

    def status(self, t: float, node: str, **fields: Any) -> Trace:
        return self(t, "status", node=node, fields=fields)

    def crash(
        self, t: float, node: str, reason: str = "crashed on purpose (by the supervisor)"
    ) -> Trace:
        return self(t, "crash", node=node, incarnation=1, reason=reason)

    def restart(self, t: float, node: str) -> Trace:
        return self(t, "restart", node=node, role=node, incarnation=2, port=None, cls="X")

    def fault(self, t: float, change: str, cuts: list[dict[str, Any]]) -> Trace:
        return self(t, "fault", change=change, faults={"cuts": cuts}, summary=change)

    def send(self, t: float, src: str, dest: str, kind: str) -> Trace:
        n = len(self.events) + 1
        return self(t, "send", src=src, dest=dest, mid=f"{src}/1/{n}", body={"type": kind})


def failure(check: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Run a checker that must fail; return its message."""
    with pytest.raises(CheckFailed) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_check_failed_is_an_assertion_error() -> None:
    assert issubclass(CheckFailed, AssertionError)


# -- expect_equal ---------------------------------------------------------------------------------


def test_expect_equal_passes_on_equal_values() -> None:
    expect_equal(5050, 5050, what="the sum")
    expect_equal({"a": [1, 2]}, {"a": [1, 2]}, what="the map")


def test_expect_equal_says_what_was_expected_and_what_came() -> None:
    message = failure(expect_equal, 5049, 5050, what="the sum the client got")
    assert message == "the sum the client got: expected 5050, got 5049"


def test_expect_equal_points_at_the_difference_in_containers() -> None:
    message = failure(expect_equal, {"a": 1, "b": 2, "z": 0}, {"a": 1, "b": 3, "c": 4}, what="m")
    assert "missing keys: 'c'" in message
    assert "unexpected keys: 'z'" in message
    assert "'b': expected 3, got 2" in message
    assert "first difference at index 2: expected 3, got 4" in failure(
        expect_equal, [1, 2, 4], [1, 2, 3], what="the list"
    )
    assert "expected 3 items, got 2" in failure(expect_equal, [1, 2], [1, 2, 3], what="l")
    message = failure(expect_equal, {1, 2, 9}, {1, 2, 3}, what="the set")
    assert "missing: 3" in message and "unexpected: 9" in message


def test_expect_equal_shortens_huge_values() -> None:
    message = failure(expect_equal, list(range(1000)), list(range(1001)), what="the list")
    assert len(message) < 1000
    assert "expected 1001 items, got 1000" in message


# -- exactly_once and effects_from_status ---------------------------------------------------------


def test_exactly_once_passes_when_every_key_took_effect_once() -> None:
    effects = [("j1", 1.0, "w1"), ("j2", 1.1, "w2")]
    exactly_once(effects, expected=["j2", "j1"], what="jobs applied")


def test_exactly_once_reports_missing_and_repeated_keys_with_times_and_nodes() -> None:
    effects = [("j1", 1.0, "w1"), ("j3", 1.204, "w1"), ("j3", 1.53, "w2")]
    message = failure(exactly_once, effects, expected=["j1", "j2", "j3", "j10"], what="jobs")
    assert message.startswith("jobs: each of the 4 expected keys must take effect exactly once")
    assert "'j3' took effect 2 times: at t=1.204 s on w1, at t=1.530 s on w2" in message
    assert "2 keys never took effect: 'j2', 'j10'" in message  # in natural order


def test_exactly_once_rejects_unexpected_keys_unless_allowed() -> None:
    effects = [("j1", 1.0, "w1"), ("zz", 2.5, "w3")]
    message = failure(exactly_once, effects, expected=["j1"], what="jobs")
    assert "'zz' was not expected, yet took effect 1 time: at t=2.500 s on w3" in message
    exactly_once(effects, expected=["j1"], what="jobs", allow_unexpected=True)


def test_exactly_once_keeps_long_reports_short() -> None:
    message = failure(exactly_once, [], expected=[f"j{i}" for i in range(100)], what="jobs")
    assert "100 keys never took effect: 'j0', 'j1'" in message
    assert "... and 90 more" in message


def test_effects_from_status_takes_single_keys_and_lists() -> None:
    tr = Trace()
    tr.status(1.0, "w1", applied="j1", busy=True)
    tr.status(1.5, "w2", applied=["j2", 3])
    tr.status(1.7, "w2", busy=False)  # does not publish the field
    tr.send(1.8, "w1", "w2", "applied")
    tr.status(2.0, "w1", applied="j1")  # published again: a second effect
    assert effects_from_status(tr.events, field="applied") == [
        ("j1", 1.0, "w1"),
        ("j2", 1.5, "w2"),
        ("3", 1.5, "w2"),
        ("j1", 2.0, "w1"),
    ]
    message = failure(
        exactly_once,
        effects_from_status(tr.events, field="applied"),
        expected=["j1", "j2", "3"],
        what="jobs applied",
    )
    assert "'j1' took effect 2 times: at t=1.000 s on w1, at t=2.000 s on w1" in message


def test_effects_from_status_cumulative_counts_only_what_each_list_adds() -> None:
    tr = Trace()
    tr.status(1.0, "w1", applied=["j1"])
    tr.status(1.1, "w1", applied=["j1", "j2"])
    tr.crash(1.2, "w1")
    tr.restart(1.3, "w1")
    tr.status(1.4, "w1", applied=["j1", "j2"])  # reloaded from storage: nothing new
    tr.status(1.5, "w1", applied=["j1", "j2", "j2"])  # applied j2 a second time
    tr.status(1.6, "w2", applied=["j1"])  # another node: its own list
    assert effects_from_status(tr.events, field="applied", cumulative=True) == [
        ("j1", 1.0, "w1"),
        ("j2", 1.1, "w1"),
        ("j2", 1.5, "w1"),
        ("j1", 1.6, "w2"),
    ]


# -- status_at ------------------------------------------------------------------------------------


def test_status_accumulates_and_restart_resets_it() -> None:
    tr = Trace()
    tr.status(1.0, "a", pongs=1, role="follower")
    tr.status(1.5, "b", pongs=99)
    tr.status(2.0, "a", pongs=2)
    tr.crash(3.0, "a")
    tr.restart(4.0, "a")
    tr.status(4.5, "a", boots=2)
    assert status_at(tr.events, "a", 0.5) == {}
    assert status_at(tr.events, "a", 1.0) == {"pongs": 1, "role": "follower"}
    assert status_at(tr.events, "a", 2.5) == {"pongs": 2, "role": "follower"}
    assert status_at(tr.events, "a", 3.5) == {"pongs": 2, "role": "follower"}  # kept while down
    assert status_at(tr.events, "a", 4.0) == {}  # restarted: fresh
    assert status_at(tr.events, "a", 9.0) == {"boots": 2}
    assert status_at(tr.events, "nobody", 9.0) == {}


# -- within ---------------------------------------------------------------------------------------


def _pongs() -> Trace:
    tr = Trace()
    for i, t in enumerate([1.0, 1.5, 2.0, 2.6, 3.2], start=1):
        tr.status(t, "pinger", pongs=i)
    return tr


def test_within_returns_when_the_predicate_first_held() -> None:
    events = _pongs().events
    assert within(
        events,
        after=1.8,
        seconds=1.0,
        node="pinger",
        predicate=lambda s: s["pongs"] >= 4,
        what="4 pongs",
    ) == pytest.approx(2.6)
    # Already true at the start of the window: the window's start.
    assert within(
        events, after=1.8, seconds=1.0, node="pinger", predicate=lambda s: s["pongs"] >= 2, what="2"
    ) == pytest.approx(1.8)


def test_within_fails_with_the_deadline_and_the_status_then() -> None:
    message = failure(
        within,
        _pongs().events,
        after=1.0,
        seconds=1.5,
        node="pinger",
        predicate=lambda s: s["pongs"] >= 5,
        what="the pinger gets 5 pongs",
    )
    assert message.startswith(
        "the pinger gets 5 pongs: expected within 1.500 s after t=1.000 s (by t=2.500 s)"
    )
    assert "At t=2.500 s pinger's status was pongs=3 (last published at t=2.000 s)" in message
    assert "too short" not in message


def test_within_treats_missing_fields_as_not_yet() -> None:
    tr = Trace()
    tr.status(0.5, "pinger", timeouts=1)
    tr.status(1.2, "pinger", pongs=1)
    assert within(
        tr.events,
        after=0.0,
        seconds=2.0,
        node="pinger",
        predicate=lambda s: s["pongs"] > 0,
        what="p",
    ) == pytest.approx(1.2)
    message = failure(
        within,
        Trace().status(0.5, "other", pongs=5).events,
        after=0.0,
        seconds=1.0,
        node="pinger",
        predicate=lambda s: s["pongs"] > 0,
        what="a pong",
    )
    assert "pinger's status was (nothing published)" in message
    assert "the trace ends at t=0.500 s, before the deadline" in message


def test_within_sees_a_restart_reset_the_status_and_says_when_the_node_is_down() -> None:
    tr = Trace()
    tr.status(1.0, "server", ready=True)
    tr.crash(2.0, "server", reason="ValueError in handler 'put': bad")
    tr.restart(2.5, "server")
    tr.status(2.6, "server", loaded=True)
    tr.status(4.0, "server", ready=True)
    # From t=2.5 the restarted server is not ready until it says so again, at t=4.0.
    assert within(
        tr.events, after=2.5, seconds=2, node="server", predicate=lambda s: s["ready"], what="r"
    ) == pytest.approx(4.0)
    message = failure(
        within,
        tr.events[:2],
        after=1.5,
        seconds=1,
        node="server",
        predicate=lambda s: s.get("done"),
        what="the server finishes",
    )
    assert "server was down: it crashed at t=2.000 s (ValueError in handler 'put': bad)" in message


# -- at_most_one_per_term -------------------------------------------------------------------------


def test_one_leader_per_term_passes_and_returns_the_leaders() -> None:
    tr = Trace()
    tr.status(1.0, "n1", role="leader", term=1)
    tr.status(1.1, "n1", role="leader")  # the same node again: fine
    tr.status(2.0, "n1", term=2)  # a new term, but no claim to lead it
    tr.status(2.0, "n1", role="follower")
    tr.status(2.1, "n2", role="candidate", term=2)
    tr.status(2.2, "n2", role="leader")  # the term published earlier counts
    tr.status(2.3, "n3", role="leader")  # no term at all: ignored
    assert at_most_one_per_term(tr.events) == {1: "n1", 2: "n2"}


def test_two_leaders_in_one_term_are_named_with_their_times() -> None:
    tr = Trace()
    tr.status(1.204, "n1", role="leader", term=3)
    tr.status(2.0, "n3", role="leader", term=4)
    tr.status(2.301, "n2", role="leader", term=3)
    message = failure(at_most_one_per_term, tr.events)
    assert message == (
        "two nodes claimed role='leader' with term=3: n1 at t=1.204 s, then n2 at t=2.301 s; "
        "at most one node may be leader per term"
    )


def test_one_leader_per_term_with_other_field_names_and_a_restart() -> None:
    tr = Trace()
    tr.status(1.0, "n1", state="LEADER", epoch=1)
    tr.crash(1.5, "n1")
    tr.restart(2.0, "n1")
    tr.status(2.1, "n1", state="LEADER")  # its status restarted: no epoch, no claim
    tr.status(2.2, "n2", state="LEADER", epoch=2)
    kw: dict[str, Any] = {"role_field": "state", "role": "LEADER", "term_field": "epoch"}
    assert at_most_one_per_term(tr.events, **kw) == {1: "n1", 2: "n2"}
    tr.status(3.0, "n3", state="LEADER", epoch=1)  # n1 led epoch 1, even if it crashed since
    message = failure(at_most_one_per_term, tr.events, **kw)
    assert "state='LEADER' with epoch=1: n1 at t=1.000 s, then n3 at t=3.000 s" in message
    assert "may be LEADER per epoch" in message


# -- at_most_one_holder ---------------------------------------------------------------------------


def test_a_lock_handed_over_cleanly_passes() -> None:
    tr = Trace()
    tr.status(1.0, "n1", locked=True)
    tr.status(1.2, "n1", locked=True)  # still holding
    tr.status(2.0, "n1", locked=False)
    tr.status(2.0, "n2", locked=True)  # same t, but after the release
    assert at_most_one_holder(tr.events, field="locked") == [
        Hold("n1", 1.0, 2.0, "it published locked=False"),
        Hold("n2", 2.0, None, ""),
    ]


def test_two_holders_at_once_are_reported_with_both_intervals() -> None:
    tr = Trace()
    tr.status(1.0, "n1", locked=True)
    tr.status(2.0, "n2", locked=True)
    tr.status(2.5, "n1", locked=None)
    message = failure(at_most_one_holder, tr.events, field="locked", what="the lock")
    assert message == (
        "two nodes held the lock at once, from t=2.000 s: n1 held it from t=1.000 s until "
        "t=2.500 s (it published locked=None), and n2 from t=2.000 s until the end of the trace"
    )


def test_a_crash_or_a_restart_ends_a_hold() -> None:
    tr = Trace()
    tr.status(1.0, "n1", locked=True)
    tr.crash(1.5, "n1")
    tr.status(2.0, "n2", locked=True)
    tr.restart(2.5, "n2")  # a restart without an explicit crash event before it
    tr.status(3.0, "n1", locked=1)
    holds = at_most_one_holder(tr.events, field="locked")
    assert holds == [
        Hold("n1", 1.0, 1.5, "it crashed"),
        Hold("n2", 2.0, 2.5, "it restarted"),
        Hold("n1", 3.0, None, ""),
    ]


def test_a_paused_holder_still_holds() -> None:
    tr = Trace()
    tr.status(1.0, "n1", locked=True)
    tr(1.1, "pause", node="n1")
    tr.status(3.0, "n2", locked=True)
    message = failure(at_most_one_holder, tr.events, field="locked")
    assert "two nodes held 'locked' at once, from t=3.000 s" in message


# -- heal_time ------------------------------------------------------------------------------------


def _isolate(node: str) -> list[dict[str, Any]]:
    return [{"cut": "isolate", "node": node}]


def test_heal_time_is_when_the_last_cut_went() -> None:
    tr = Trace()
    tr(0.0, "run_start", faults={"cuts": []})
    tr.fault(1.0, "partition: echo isolated", _isolate("echo"))
    tr.fault(2.0, "heal all partitions", [])
    tr.fault(3.0, "partition: b isolated", _isolate("b"))
    tr.fault(3.5, "set drop=0.1", _isolate("b"))
    tr.fault(4.0, "heal all partitions", [])
    tr.fault(5.0, "set drop=0.2", [])  # no cut before or after: not a heal
    assert heal_time(tr.events) == 4.0


def test_heal_time_is_none_without_a_partition_or_while_one_remains() -> None:
    assert heal_time([]) is None
    assert heal_time(Trace().fault(1.0, "set drop=0.1", []).events) is None
    tr = Trace()
    tr.fault(1.0, "partition: a isolated", _isolate("a"))
    tr.fault(2.0, "heal all partitions", [])
    tr.fault(3.0, "partition: a isolated", _isolate("a"))
    assert heal_time(tr.events) is None  # partitioned at the end: never healed for good


def test_heal_time_counts_a_partition_from_the_start_and_reads_old_style_events() -> None:
    tr = Trace()
    tr(0.0, "run_start", faults={"cuts": _isolate("a")})
    tr(2.0, "fault", change="heal all partitions")  # no fault state: the change says it
    assert heal_time(tr.events) == 2.0


# -- efficiency -----------------------------------------------------------------------------------


def _history(latencies: list[float], *, f: str = "put") -> History:
    history = History()
    for i, latency in enumerate(latencies):
        start = float(i)
        op = history.invoke("c1", f, i, start)
        history.complete(op, "ok", None, start + latency)
    return history


def test_messages_per_operation_passes_and_returns_the_ratio() -> None:
    tr = Trace()
    for i in range(6):
        tr.send(i / 10, "c1", "n1", "put")
        tr.send(i / 10, "n1", "c1", "put_ok")
    tr.send(0.7, "n1", "n2", "gossip")
    history = _history([0.1, 0.1, 0.1, 0.1])
    assert messages_per_operation(tr.events, history, at_most=4) == pytest.approx(13 / 4)
    assert messages_per_operation(tr.events, history, at_most=1.5, types={"put"}) == pytest.approx(
        1.5
    )


def test_messages_per_operation_fails_with_the_numbers() -> None:
    tr = Trace()
    for i in range(10):
        tr.send(i / 10, "n1", "n2", "gossip")
    tr.send(1.0, "c1", "n1", "put")
    message = failure(messages_per_operation, tr.events, _history([0.1, 0.2]), at_most=2)
    assert "5.50 messages per operation completed ok, more than the 2 allowed" in message
    assert "11 messages sent for 2 operations completed ok" in message
    assert "most sent: gossip × 10, put × 1" in message
    message = failure(
        messages_per_operation, tr.events, _history([0.1]), at_most=0.5, types=["put"]
    )
    assert "1 message sent (of types put) for 1 operation completed ok" in message


def test_efficiency_without_ok_operations_fails_clearly() -> None:
    history = History()
    history.invoke("c1", "put", 1, 0.0)
    op = history.invoke("c1", "put", 2, 0.1)
    history.complete(op, "timeout", None, 1.1)
    tr = Trace().send(0.0, "c1", "n1", "put")
    message = failure(messages_per_operation, tr.events, history, at_most=3)
    assert message == (
        "no operation completed ok (2 invoked: 0 ok, 0 failed, 1 timed out), so messages per "
        "operation cannot be measured (1 message sent)"
    )
    message = failure(latency_percentile, History(), percentile=99, at_most=1)
    assert "no ok operations to measure latency over (0 invoked" in message
    message = failure(latency_percentile, _history([0.1]), percentile=50, at_most=1, f="get")
    assert "no ok get operations to measure latency over" in message


def test_latency_percentile_is_nearest_rank() -> None:
    history = _history([0.1 * i for i in range(1, 11)])  # 0.1 .. 1.0
    assert latency_percentile(history, percentile=50, at_most=1) == pytest.approx(0.5)
    assert latency_percentile(history, percentile=90, at_most=1) == pytest.approx(0.9)
    assert latency_percentile(history, percentile=91, at_most=1) == pytest.approx(1.0)
    assert latency_percentile(history, percentile=100, at_most=1) == pytest.approx(1.0)
    assert latency_percentile(history, percentile=1, at_most=1) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="percentile"):
        latency_percentile(history, percentile=0, at_most=1)


def test_latency_percentile_ignores_failed_timed_out_and_other_operations() -> None:
    history = _history([0.1, 0.2])
    op = history.invoke("c2", "put", 9, 5.0)
    history.complete(op, "timeout", None, 50.0)
    op = history.invoke("c2", "put", 9, 6.0)
    history.complete(op, "fail", None, 60.0)
    history.invoke("c2", "put", 9, 7.0)  # still pending
    op = history.invoke("c2", "get", 9, 8.0)
    history.complete(op, "ok", None, 80.0)
    assert latency_percentile(history, percentile=100, at_most=1, f="put") == pytest.approx(0.2)


def test_latency_percentile_fails_with_the_value_and_the_slowest_operations() -> None:
    history = _history([0.1] * 8 + [0.532, 0.9])
    message = failure(latency_percentile, history, percentile=90, at_most=0.25, f="put")
    assert message.startswith(
        "the 90th percentile latency of ok put operations is 0.532 s (over 10 operations), "
        "above the 0.250 s allowed; slowest: op 10 (put by c1, invoked at t=9.000 s, "
        "completed at t=9.900 s: 0.900 s); op 9 (put by c1"
    )
    assert "the 99th percentile" in failure(latency_percentile, history, percentile=99, at_most=0)
    assert "the 50th percentile" in failure(latency_percentile, history, percentile=50, at_most=0)


# -- no_crashes -----------------------------------------------------------------------------------


def test_no_crashes_passes_on_a_quiet_run_and_ignores_ordered_crashes() -> None:
    tr = Trace()
    tr.status(1.0, "a", x=1)
    tr.crash(2.0, "a")  # the test crashed it on purpose
    tr(2.1, "crash", node="b", incarnation=1, reason="crashed on purpose (by the supervisor): x")
    no_crashes(tr.events)
    message = failure(no_crashes, tr.events, ignore_deliberate=False)
    assert message.startswith("2 crashes:\na crashed at t=2.000 s: crashed on purpose")


def test_no_crashes_lists_each_crash_with_its_reason_and_traceback() -> None:
    tr = Trace()
    tr(
        1.204,
        "crash",
        node="worker1",
        incarnation=1,
        reason="ZeroDivisionError in handler 'job': division by zero",
        traceback='Traceback (most recent call last):\n  File "solution.py", line 9, in on_job\n'
        "ZeroDivisionError: division by zero",
    )
    tr(
        3.5,
        "crash",
        node="worker2",
        incarnation=1,
        reason="the node's process exited with code 3",
        exit_code=3,
        output_tail="about to exit",
    )
    message = failure(no_crashes, tr.events)
    assert message.startswith(
        "2 crashes:\nworker1 crashed at t=1.204 s: ZeroDivisionError in handler 'job': "
        "division by zero\n    Traceback (most recent call last):\n"
    )
    assert 'File "solution.py", line 9, in on_job' in message
    assert "worker2 crashed at t=3.500 s: the node's process exited with code 3" in message
    assert "its last output:\n    about to exit" in message
    only = failure(no_crashes, tr.events, nodes=["worker2"])
    assert only.startswith("1 crash:\nworker2") and "worker1" not in only
    no_crashes(tr.events, nodes={"worker3"})


def test_no_crashes_lists_the_same_crash_once_with_every_node() -> None:
    tr = Trace()
    for t, node in ((0.0, "replica-1"), (0.0, "replica-2"), (0.9, "replica-1")):
        tr(
            t,
            "crash",
            node=node,
            incarnation=1,
            reason="NotImplementedError in creating Replica",
            traceback="Traceback (most recent call last):\nNotImplementedError: write this",
        )
    message = failure(no_crashes, tr.events)
    assert message.startswith(
        "3 crashes:\nthe same crash 3 times (replica-1 at t=0.000 s, replica-2 at t=0.000 s, "
        "replica-1 at t=0.900 s): NotImplementedError in creating Replica\n"
    )
    assert message.count("NotImplementedError: write this") == 1


# -- a real simulated run -------------------------------------------------------------------------


def test_the_pinger_recovers_within_a_second_of_the_heal_in_the_simulator() -> None:
    spec = ClusterSpec(
        (NodeSpec("echo", "echo", Echo), NodeSpec("pinger", "pinger", Pinger)), {"pause": 0.02}
    )

    async def main() -> list[TraceEvent]:
        async with open_cluster(spec, seed=3, placement="sim") as cluster:
            await trio.sleep(0.5)
            cluster.network.isolate("echo")
            await trio.sleep(0.5)
            cluster.network.heal()
            await trio.sleep(1.0)
        return cluster.trace.events

    events = run_simulated(main, seed=3)
    healed = heal_time(events)
    assert healed is not None and 0.9 < healed < 1.1
    before = status_at(events, "pinger", healed)
    assert before["timeouts"] >= 1  # the partition did bite
    recovered = within(
        events,
        after=healed,
        seconds=1.0,
        node="pinger",
        predicate=lambda s: s["pongs"] > before["pongs"],
        what="the pinger gets a pong after the heal",
    )
    assert healed <= recovered <= healed + 1.0
    no_crashes(events)
    # While echo was isolated, no pong came back: the check fails, and says so.
    message = failure(
        within,
        events,
        after=0.6,
        seconds=0.3,
        node="pinger",
        predicate=lambda s: s["pongs"] > before["pongs"],
        what="a pong during the partition",
    )
    assert "by t=0.900 s" in message and f"pongs={before['pongs']}" in message


# -- waiting on the trace --------------------------------------------------------------------


def test_first_event_finds_past_and_future_events_and_stops_at_a_crash() -> None:
    spec = ClusterSpec((NodeSpec("echo", "echo", Echo), NodeSpec("pinger", "pinger", Pinger)))

    def pongs(n: int) -> Callable[[TraceEvent], bool]:
        return lambda e: e.kind == "status" and e["fields"].get("pongs") == n

    async def main() -> None:
        async with open_cluster(spec, seed=1, placement="sim") as cluster:
            third = await first_event(cluster, pongs(3), seconds=5)  # still to come
            assert third is not None and cluster.status_of("pinger")["pongs"] >= 3
            assert await first_event(cluster, pongs(3), seconds=0) is third  # already there
            began = trio.current_time()
            assert await first_event(cluster, pongs(-1), seconds=2) is None  # never
            assert trio.current_time() - began == pytest.approx(2)
            await cluster.crash("echo")  # a deliberate crash is not a failure
            assert await first_event(cluster, pongs(-1), seconds=0.1) is None

    run_simulated(main, seed=1)


def test_first_event_fails_at_once_when_a_node_crashes_by_itself() -> None:
    spec = ClusterSpec((NodeSpec("echo", "echo", Fragile), NodeSpec("pinger", "pinger", Pinger)))

    async def main() -> None:
        async with open_cluster(spec, seed=1, placement="sim") as cluster:
            began = trio.current_time()
            with pytest.raises(CheckFailed, match="echo crashed at"):
                await first_event(cluster, lambda e: False, seconds=60)
            assert trio.current_time() - began < 1  # not the whole minute
            with pytest.raises(CheckFailed, match="echo crashed at"):  # nor after the fact
                await first_event(cluster, lambda e: False, seconds=60)

    run_simulated(main, seed=1)
