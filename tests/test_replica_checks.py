"""The replica checkers (grading/_replica_checks.py): small histories written by hand, passing
and failing, and the words of each failure."""

from __future__ import annotations

from typing import Any

import pytest

from distlab.grading import (
    CheckFailed,
    History,
    KeyValueModel,
    ReplicaOps,
    ReplicaRead,
    acknowledged_writes,
    acknowledged_writes_kept,
    acknowledged_writes_ordered,
    answered_reads,
    check_linearizable,
    converged_within,
    descends,
    merge_versions,
    session_guarantees,
    stale_reads_within,
    version_words,
    versioned_kv_read,
)

TIMEOUT = "timeout"


def put(
    h: History,
    client: str,
    value: Any,
    start: float,
    end: float,
    version: dict[str, int] | str | None,
    *,
    at: str = "r1",
    key: str = "x",
) -> None:
    """A put of ``value``: acknowledged with ``version``, else TIMEOUT, or a refusal (a str:
    its type)."""
    op = h.invoke(client, "put", {"type": "put", "key": key, "value": value}, start, dest=at)
    if version == TIMEOUT:
        h.complete(op, "timeout", None, end)
    elif isinstance(version, str):
        h.complete(op, "ok", {"type": version, "primary": None}, end)
    else:
        h.complete(op, "ok", {"type": "put_ok", "key": key, "version": version}, end)


def get(
    h: History,
    client: str,
    start: float,
    end: float,
    values: list[Any] | None,
    version: dict[str, int],
    *,
    at: str = "r1",
    after: dict[str, int] | None = None,
    key: str = "x",
) -> None:
    """A get answered with ``values`` (siblings) at ``version``; None: answered ``behind``."""
    asked = {"type": "get", "key": key, "after": after or {}}
    op = h.invoke(client, "get", asked, start, dest=at)
    if values is None:
        h.complete(op, "ok", {"type": "behind", "key": key, "version": version}, end)
        return
    siblings = [{"value": v, "version": version} for v in values]
    h.complete(
        op, "ok", {"type": "get_ok", "key": key, "siblings": siblings, "version": version}, end
    )


def failure(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(CheckFailed) as caught:
        check(*args, **kwargs)
    return str(caught.value)


# -- versions --------------------------------------------------------------------------------------


def test_descends_entry_by_entry_and_concurrent_versions_descend_from_neither() -> None:
    assert descends({"r1": 2, "r3": 1}, {"r1": 2})
    assert descends({"r1": 2}, {})
    assert descends({"r1": 2}, {"r1": 2, "r3": 0})
    assert not descends({"r1": 2}, {"r1": 1, "r3": 1})
    assert not descends({"r1": 1, "r3": 1}, {"r1": 2})  # a larger total is not enough
    assert merge_versions({"r1": 2}, {"r1": 1, "r3": 1}) == {"r1": 2, "r3": 1}
    assert version_words({"r3": 1, "r1": 2}) == "{r1: 2, r3: 1}"


def test_writes_and_reads_are_read_from_the_history_refusals_left_out() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    put(h, "c1", "b", 0.2, 0.3, "not_primary", at="r2")
    put(h, "c1", "c", 0.4, 0.9, TIMEOUT)
    get(h, "c2", 1.0, 1.1, ["a"], {"r1": 1}, at="r2")
    get(h, "c2", 1.2, 1.3, None, {}, at="r3", after={"r1": 1})
    (write,) = acknowledged_writes(h)
    assert (write.client, write.key, write.value, write.dest) == ("c1", "x", "a", "r1")
    (read,) = answered_reads(h)
    assert (read.values, read.version, read.dest) == (("a",), {"r1": 1}, "r2")
    assert answered_reads(h, key="y") == []


def test_other_names_and_a_single_value_answer() -> None:
    h = History()
    op = h.invoke("c1", "write", {"k": "x", "v": 5}, 0.0, dest="n1")
    h.complete(op, "ok", {"type": "write_ok", "vv": {"n1": 1}}, 0.1)
    op = h.invoke("c1", "read", {"k": "x"}, 0.2, dest="n2")
    h.complete(op, "ok", {"type": "read_ok", "v": 5, "vv": {"n1": 1}}, 0.3)
    names = {"put": "write", "put_ok": "write_ok", "get": "read", "get_ok": "read_ok"}
    ops = ReplicaOps(**names, key="k", value="v", version="vv")
    (read,) = answered_reads(h, ops=ops)
    assert read.values == (5,) and read.version == {"n1": 1}
    assert session_guarantees(h, ops=ops) == 1


# -- acknowledged writes kept ----------------------------------------------------------------------


def finals(h: History, *kept: tuple[str, list[Any], dict[str, int]]) -> list[ReplicaRead]:
    """Each replica's final read (``(replica, values, version)``), recorded in ``h``."""
    for i, (replica, values, version) in enumerate(kept):
        get(h, "reader", 10.0 + i, 10.5 + i, values, version, at=replica)
    return [r for r in answered_reads(h) if r.client == "reader"]


def test_a_write_replaced_by_one_that_saw_it_is_kept() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    put(h, "c2", "b", 0.2, 0.3, {"r1": 2})
    kept = finals(h, ("r1", ["b"], {"r1": 2}), ("r2", ["b"], {"r1": 2}))
    assert acknowledged_writes_kept(h, kept) == 2


def test_a_lost_acknowledged_write_is_named_with_the_replica_that_lost_it() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    put(h, "c2", "b", 0.2, 0.3, {"r3": 1}, at="r3")
    kept = finals(h, ("r1", ["b"], {"r1": 1, "r3": 1}), ("r2", ["b"], {"r3": 1}))
    message = failure(acknowledged_writes_kept, h, kept)
    assert "c1's write of x = 'a' at r1, acknowledged at t=0.100 s with version {r1: 1}" in message
    assert "is lost: at the end r2 keeps x = ['b'] at version {r3: 1}" in message
    assert "does not descend from it" in message


# -- convergence -----------------------------------------------------------------------------------


def test_replicas_that_keep_the_same_siblings_converged() -> None:
    h = History()
    kept = finals(h, ("r1", ["a", "b"], {"r1": 1, "r3": 1}), ("r2", ["b", "a"], {"r3": 1, "r1": 1}))
    assert converged_within(kept, since=5.0, bound=2.0).values == ("a", "b")


def test_replicas_that_disagree_are_each_described() -> None:
    h = History()
    kept = finals(h, ("r1", ["a", "b"], {"r1": 1, "r3": 1}), ("r2", ["a"], {"r1": 1}))
    message = failure(converged_within, kept, since=5.0, bound=2.0)
    assert "the network was whole again from t=5.000 s, and the replicas, given 2 s" in message
    assert "r1 keeps x = ['a', 'b'] at version {r1: 1, r3: 1}" in message
    assert "r2 keeps x = ['a'] at version {r1: 1}" in message
    assert "no replica's read" in failure(converged_within, [], since=0.0, bound=1.0)


# -- session guarantees ----------------------------------------------------------------------------


def test_reads_that_see_the_clients_own_writes_and_move_forward_pass() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    get(h, "c1", 0.2, 0.3, None, {}, at="r2", after={"r1": 1})  # behind: it asks another
    get(h, "c1", 0.4, 0.5, ["a"], {"r1": 1}, at="r3", after={"r1": 1})
    get(h, "c2", 0.6, 0.7, [], {}, at="r2")  # another client may read an older value
    assert session_guarantees(h) == 2


def test_a_read_that_misses_the_clients_own_write_fails() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    get(h, "c1", 0.2, 0.3, [], {}, at="r2", after={"r1": 1})
    message = failure(session_guarantees, h)
    assert "c1's read at r2 at t=0.300 s, answered x = [] at version {}" in message
    assert "older than what c1 had been told before it asked" in message
    assert "c1's write of x = 'a' at r1, acknowledged at t=0.100 s" in message
    assert "the client sent {r1: 1}" in message


def test_a_read_that_goes_back_in_time_fails() -> None:
    h = History()
    get(h, "c1", 0.0, 0.1, ["b"], {"r1": 2}, at="r1")
    get(h, "c1", 0.2, 0.3, ["a"], {"r1": 1}, at="r2")
    get(h, "c1", 0.05, 0.4, ["a"], {"r1": 1}, at="r3")  # asked before the first answer: fine
    message = failure(session_guarantees, h)
    assert "c1's read at r2 at t=0.300 s, answered x = ['a'] at version {r1: 1}" in message
    assert "c1's read at r1 at t=0.100 s, answered x = ['b'] at version {r1: 2}" in message


def test_other_keys_are_other_sessions() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1}, key="y")
    get(h, "c1", 0.2, 0.3, [], {}, at="r2")
    assert session_guarantees(h) == 1


# -- stale reads -----------------------------------------------------------------------------------


def test_a_read_may_miss_a_recent_write_but_not_an_old_one() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    get(h, "c2", 0.5, 0.6, [], {}, at="r2")  # 0.4 s after: within 1 s
    assert stale_reads_within(h, 1.0) == 1
    get(h, "c2", 1.5, 1.6, [], {}, at="r3")
    message = failure(stale_reads_within, h, 1.0)
    assert "c2's read at r3 at t=1.600 s, answered x = [] at version {}" in message
    assert "which does not include c1's write of x = 'a' at r1" in message
    assert "1.400 s before the read began" in message
    assert "must not lag more than 1 s behind an acknowledged write" in message


# -- ordered writes --------------------------------------------------------------------------------


def test_writes_in_one_line_pass_and_concurrent_ones_fail() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    put(h, "c2", "b", 0.2, 0.3, {"r1": 2})
    put(h, "c1", "z", 0.2, 0.3, {"r2": 1}, key="y")  # another key
    assert acknowledged_writes_ordered(h) == 3
    put(h, "c2", "c", 0.4, 0.5, {"r1": 1, "r2": 1}, at="r2")
    message = failure(acknowledged_writes_ordered, h)
    assert "c2's write of x = 'b' at r1, acknowledged at t=0.300 s with version {r1: 2}" in message
    assert "c2's write of x = 'c' at r2" in message
    assert "neither version descends from the other" in message


# -- linearizability -------------------------------------------------------------------------------


def test_refusals_and_behind_answers_took_no_effect_timeouts_may_have() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    put(h, "c1", "b", 0.2, 0.3, "not_primary", at="r2")  # took no effect
    put(h, "c2", "c", 0.4, 0.9, TIMEOUT)  # may take effect later: after the read below
    get(h, "c1", 1.0, 1.1, ["a"], {"r1": 1})
    get(h, "c1", 1.2, 1.3, None, {"r1": 1}, after={"r1": 5})  # behind: no answer
    get(h, "c1", 1.4, 1.5, ["c"], {"r1": 2})
    result = check_linearizable(h, KeyValueModel(), read=versioned_kv_read())
    assert result.ok and result.operations == 4


def test_a_stale_read_at_the_primary_is_not_linearizable_one_elsewhere_is_left_out() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    put(h, "c1", "b", 0.2, 0.3, {"r1": 2})
    get(h, "c2", 0.4, 0.5, ["a"], {"r1": 1}, at="r2")  # a read replica lags: allowed
    at_r1 = versioned_kv_read(reads=lambda invoked: invoked.dest == "r1")
    assert check_linearizable(h, KeyValueModel(), read=at_r1).ok
    get(h, "c2", 0.6, 0.7, ["a"], {"r1": 1}, at="r1")
    message = failure(check_linearizable, h, KeyValueModel(), read=at_r1)
    assert "not linearizable (key 'x')" in message
    assert "c2 get('x') -> 'a'" in message


def test_siblings_at_the_primary_are_no_register_value() -> None:
    h = History()
    put(h, "c1", "a", 0.0, 0.1, {"r1": 1})
    get(h, "c2", 0.2, 0.3, ["a", "b"], {"r1": 1, "r2": 1})
    get(h, "c2", 0.4, 0.5, [], {}, key="y")  # nothing yet: the initial None
    message = failure(check_linearizable, h, KeyValueModel(), read=versioned_kv_read())
    assert "c2 get('x') -> ['a', 'b']" in message
