"""Checkers over a run's trace and its client history, as graded lab tests call them.

Every checker reads what a run recorded (a list of :class:`distlab.TraceEvent`, in trace order,
and/or a :class:`History` of what clients saw). A checker that finds the implementation wrong raises
:class:`CheckFailed` with a message in plain words that names the times (``t=1.204 s``) and the
nodes involved, so that a student knows where to look in the trace. A checker that passes returns
what it measured (or ``None`` when there is nothing to measure).

Status events follow the trace's rule (``docs/trace.md``): a node's fields accumulate from one
``status(...)`` call to the next, and start again from nothing when the node restarts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, NamedTuple, TypeAlias

from distlab._trace import (
    CRASH,
    DELIBERATE_CRASH,
    FAULT,
    RESTART,
    RUN_START,
    SEND,
    START,
    STATUS,
    TraceEvent,
)

from ._history import History, Op
from ._results import CheckFailed

__all__ = [
    "Effect",
    "Hold",
    "at_most_one_holder",
    "at_most_one_per_term",
    "effects_from_status",
    "exactly_once",
    "expect_equal",
    "heal_time",
    "latency_percentile",
    "messages_per_operation",
    "no_crashes",
    "status_at",
    "within",
]

#: One thing that took effect: ``(key, t, node)`` — e.g. job ``"j7"`` applied at t by ``"w2"``.
Effect: TypeAlias = tuple[str, float, str]

#: How many items a failure message lists before it says "... and N more".
_LIST_AT_MOST = 10
#: How many characters of a value a failure message shows.
_VALUE_AT_MOST = 200
#: How many lines of a crash's traceback (or a dead process's output) a failure message shows.
_TRACEBACK_LINES = 20
#: Reasons of the crashes a test orders itself (``cluster.crash``/``cluster.restart``).


# -- wording ----------------------------------------------------------------------------------


def _at(t: float) -> str:
    return f"t={t:.3f} s"


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > _VALUE_AT_MOST:
        text = text[: _VALUE_AT_MOST - 3] + "..."
    return text


def _natural(key: str) -> tuple[Any, ...]:
    """Sort key that puts "j2" before "j10"."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key))


def _listed(items: list[str], *, sep: str = ", ") -> str:
    shown = sep.join(items[:_LIST_AT_MOST])
    if len(items) > _LIST_AT_MOST:
        shown += f"{sep}... and {len(items) - _LIST_AT_MOST} more"
    return shown


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def _status_words(status: Mapping[str, Any]) -> str:
    if not status:
        return "(nothing published)"
    return ", ".join(f"{k}={_show(v)}" for k, v in status.items())


def _tail(text: str, lines: int = _TRACEBACK_LINES) -> str:
    kept = text.rstrip().splitlines()
    if len(kept) > lines:
        kept = ["...", *kept[-lines:]]
    return "\n".join("    " + line for line in kept)


# -- exact results ----------------------------------------------------------------------------


def _difference(actual: Any, expected: Any) -> str:
    """A hint at where two unequal containers differ ("" when there is nothing simple to say)."""
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        changed = [k for k in expected if k in actual and actual[k] != expected[k]]
        parts = []
        if missing:
            parts.append(f"missing keys: {_listed([_show(k) for k in missing])}")
        if extra:
            parts.append(f"unexpected keys: {_listed([_show(k) for k in extra])}")
        if changed:
            wrong = [
                f"{_show(k)}: expected {_show(expected[k])}, got {_show(actual[k])}"
                for k in changed
            ]
            parts.append(f"different values: {_listed(wrong, sep='; ')}")
        return "; ".join(parts)
    if isinstance(actual, set | frozenset) and isinstance(expected, set | frozenset):
        parts = []
        if expected - actual:
            parts.append(f"missing: {_listed(sorted(_show(v) for v in expected - actual))}")
        if actual - expected:
            parts.append(f"unexpected: {_listed(sorted(_show(v) for v in actual - expected))}")
        return "; ".join(parts)
    if isinstance(actual, list | tuple) and isinstance(expected, list | tuple):
        for i, (a, e) in enumerate(zip(actual, expected, strict=False)):
            if a != e:
                return f"first difference at index {i}: expected {_show(e)}, got {_show(a)}"
        if len(actual) != len(expected):
            return f"expected {len(expected)} items, got {len(actual)}"
    return ""


def expect_equal(actual: object, expected: object, *, what: str) -> None:
    """Fail unless ``actual == expected``; ``what`` names the value in the message.

    Example::

        expect_equal(status_at(events, "client", end)["sum"], 5050, what="the sum the client got")
        # CheckFailed: the sum the client got: expected 5050, got 5049

    For dicts, sets, lists and tuples the message also says where they differ.
    """
    if actual == expected:
        return
    message = f"{what}: expected {_show(expected)}, got {_show(actual)}"
    hint = _difference(actual, expected)
    if hint:
        message += f" ({hint})"
    raise CheckFailed(message)


# -- exactly once -----------------------------------------------------------------------------


def exactly_once(
    effects: Iterable[Effect],
    *,
    expected: Iterable[str],
    what: str,
    allow_unexpected: bool = False,
) -> None:
    """Fail unless every expected key took effect exactly once (and, by default, nothing else did).

    ``effects`` are ``(key, t, node)`` records of things that took effect, e.g. from
    :func:`effects_from_status`. The message lists the keys that never took effect, and each key
    that took effect more than once with the time and node of every occurrence. A key that is not
    expected fails too (something took effect that nobody asked for), unless
    ``allow_unexpected``.

    Example::

        applied = effects_from_status(events, field="applied")
        exactly_once(applied, expected=[f"j{i}" for i in range(10)], what="jobs applied")
        # CheckFailed: jobs applied: each of the 10 expected keys must take effect exactly once:
        #   'j3' took effect 2 times: at t=1.204 s on w1, at t=1.530 s on w2
        #   1 key never took effect: 'j7'
    """
    wanted = list(dict.fromkeys(expected))
    wanted_set = set(wanted)
    seen: dict[str, list[tuple[float, str]]] = {}
    for key, t, node in effects:
        seen.setdefault(key, []).append((t, node))
    problems: list[str] = []
    for key in sorted(seen, key=_natural):
        occurrences = seen[key]
        where = ", ".join(f"at {_at(t)} on {node}" for t, node in occurrences)
        if key not in wanted_set and not allow_unexpected:
            problems.append(
                f"{key!r} was not expected, yet took effect "
                f"{_plural(len(occurrences), 'time')}: {where}"
            )
        elif len(occurrences) > 1:
            problems.append(f"{key!r} took effect {len(occurrences)} times: {where}")
    missing = [key for key in wanted if key not in seen]
    if missing:
        shown = sorted(missing, key=_natural)
        problems.append(
            f"{_plural(len(missing), 'key')} never took effect: {_listed([repr(k) for k in shown])}"
        )
    if problems:
        raise CheckFailed(
            f"{what}: each of the {_plural(len(wanted), 'expected key')} must take effect "
            f"exactly once:\n  " + "\n  ".join(_listed_lines(problems))
        )


def _listed_lines(lines: list[str]) -> list[str]:
    if len(lines) <= _LIST_AT_MOST:
        return lines
    return [*lines[:_LIST_AT_MOST], f"... and {len(lines) - _LIST_AT_MOST} more problems"]


def _keys(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v) for v in value]
    return [str(value)]


def effects_from_status(
    events: Iterable[TraceEvent], *, field: str, cumulative: bool = False
) -> list[Effect]:
    """Effect records ``(key, t, node)`` from status events that publish ``field``.

    The field holds one key or a list of keys (non-string keys are turned into strings with
    ``str``). By default every publication counts: ``status(applied="j3")`` twice is two effects
    of ``"j3"``. With ``cumulative=True`` the field is the node's whole list so far (e.g.
    ``status(applied=self.applied)``): only what it adds counts, compared with the most the
    node ever listed (across restarts, since a restarted node may publish again what it reloaded
    from its storage); a key listed twice in one list counts twice.

    Example::

        exactly_once(effects_from_status(events, field="applied"), expected=jobs, what="jobs")
    """
    effects: list[Effect] = []
    listed: dict[str, Counter[str]] = {}
    for e in events:
        if e.kind != STATUS or field not in e["fields"]:
            continue
        node = str(e["node"])
        keys = _keys(e["fields"][field])
        if not cumulative:
            effects.extend((key, e.t, node) for key in keys)
            continue
        before = listed.setdefault(node, Counter())
        for key, count in Counter(keys).items():
            effects.extend((key, e.t, node) for _ in range(count - before[key]))
            before[key] = max(before[key], count)
    return effects


# -- accumulated status -----------------------------------------------------------------------


class _Statuses:
    """Follows every node's accumulated status, and whether it is down, event by event."""

    def __init__(self) -> None:
        self.status: dict[str, dict[str, Any]] = {}
        self.published: dict[str, float] = {}  # when each node last published
        self.crashed: dict[str, TraceEvent] = {}  # nodes down now, with their crash

    def apply(self, e: TraceEvent) -> None:
        if e.kind == STATUS:
            node = str(e["node"])
            self.status.setdefault(node, {}).update(e["fields"])
            self.published[node] = e.t
        elif e.kind in (START, RESTART):
            node = str(e["node"])
            self.status.pop(node, None)
            self.published.pop(node, None)
            self.crashed.pop(node, None)
        elif e.kind == CRASH:
            self.crashed[str(e["node"])] = e

    def of(self, node: str) -> dict[str, Any]:
        return dict(self.status.get(node, {}))


def status_at(events: Iterable[TraceEvent], node: str, t: float) -> dict[str, Any]:
    """The node's accumulated status at time ``t`` (events at exactly ``t`` included).

    Fields accumulate from one ``status(...)`` call to the next and start again from nothing at
    each ``start``/``restart`` of the node; a crashed node keeps its last status until it
    restarts. Returns a fresh dict (empty if the node published nothing yet).

    Example::

        status_at(events, "pinger", 2.5)  # {"pongs": 41, "timeouts": 3}
    """
    statuses = _Statuses()
    for e in events:
        if e.t <= t and e.get("node") == node:
            statuses.apply(e)
    return statuses.of(node)


def _holds(predicate: Callable[[dict[str, Any]], object], status: dict[str, Any]) -> bool:
    try:
        return bool(predicate(dict(status)))
    except (KeyError, TypeError):  # e.g. s["pongs"] > 3 before the first pong: not yet
        return False


def within(
    events: Iterable[TraceEvent],
    *,
    after: float,
    seconds: float,
    node: str,
    predicate: Callable[[dict[str, Any]], object],
    what: str,
) -> float:
    """Liveness: the node's status must satisfy ``predicate`` at some moment in
    ``[after, after + seconds]``; returns the first such time (``after`` if it already did).

    ``predicate`` gets a copy of the node's accumulated status (see :func:`status_at`); if it
    raises ``KeyError`` or ``TypeError`` (a field not published yet) it counts as not satisfied.
    The failure message says what was expected, from when, and what the node's status was at the
    deadline (and whether it was down, or the trace ended too early to tell).

    Example::

        healed = heal_time(events)
        within(events, after=healed, seconds=1.0, node="pinger",
               predicate=lambda s: s["pongs"] > 10, what="the pinger gets pongs again")
        # CheckFailed: the pinger gets pongs again: expected within 1.000 s after t=2.000 s
        # (by t=3.000 s), but it did not happen. At t=3.000 s pinger's status was ...
    """
    evs = list(events)
    deadline = after + seconds
    statuses = _Statuses()
    for e in evs:
        if e.t <= after and e.get("node") == node:
            statuses.apply(e)
    if _holds(predicate, statuses.of(node)):
        return after
    for e in evs:
        if after < e.t <= deadline and e.get("node") == node:
            statuses.apply(e)
            if e.kind in (STATUS, START, RESTART) and _holds(predicate, statuses.of(node)):
                return e.t
    status = statuses.of(node)
    message = (
        f"{what}: expected within {seconds:.3f} s after {_at(after)} (by {_at(deadline)}), "
        f"but it did not happen. At {_at(deadline)} {node}'s status was {_status_words(status)}"
    )
    if node in statuses.published:
        message += f" (last published at {_at(statuses.published[node])})"
    message += "."
    crash = statuses.crashed.get(node)
    if crash is not None:
        message += f" {node} was down: it crashed at {_at(crash.t)} ({crash.get('reason', '?')})."
    last = max((e.t for e in evs), default=0.0)
    if last < deadline:
        message += (
            f" Note: the trace ends at {_at(last)}, before the deadline: "
            "the run was too short to tell."
        )
    raise CheckFailed(message)


# -- safety: leaders and holders --------------------------------------------------------------


def at_most_one_per_term(
    events: Iterable[TraceEvent],
    *,
    role_field: str = "role",
    role: str = "leader",
    term_field: str = "term",
) -> dict[Any, str]:
    """No two distinct nodes may ever claim ``role`` for the same term; returns term -> node.

    A node claims a term when it publishes ``role_field=role`` (``status(role="leader", ...)``);
    the term is its accumulated ``term_field`` right after that call, so publish both together.
    Claims without a term are ignored. On failure the message names both nodes, the term and
    when each claimed it. On success, returns each claimed term with its (only) leader.

    Example::

        leaders = at_most_one_per_term(events)  # {1: "n3", 2: "n1"}
        # CheckFailed: two nodes claimed role='leader' with term=3: n1 at t=1.204 s,
        # then n2 at t=2.301 s; at most one node may be leader per term
    """
    statuses = _Statuses()
    claims: dict[Any, tuple[str, float]] = {}
    for e in events:
        statuses.apply(e)
        if e.kind != STATUS or e["fields"].get(role_field) != role:
            continue
        node = str(e["node"])
        status = statuses.status[node]
        if term_field not in status:
            continue
        term = status[term_field]
        first = claims.setdefault(term, (node, e.t))
        if first[0] != node:
            raise CheckFailed(
                f"two nodes claimed {role_field}={role!r} with {term_field}={term!r}: "
                f"{first[0]} at {_at(first[1])}, then {node} at {_at(e.t)}; at most one node "
                f"may be {role} per {term_field}"
            )
    return {term: node for term, (node, _) in claims.items()}


class Hold(NamedTuple):
    """One node holding something from ``start`` until ``end`` (None: the end of the trace)."""

    node: str
    start: float
    end: float | None
    ended_by: str  # in words: "it published locked=False", "it crashed", ... or "" if it did not


def at_most_one_holder(
    events: Iterable[TraceEvent], *, field: str, what: str | None = None
) -> list[Hold]:
    """Mutual exclusion: at no moment may two nodes hold ``field``; returns every :class:`Hold`.

    A node holds from the status event where it publishes ``field`` truthy until it publishes it
    falsy, crashes (its ``crash`` event) or restarts. Events are read in trace order, so a release
    and an acquisition at the same ``t`` do not overlap if the release came first. The message
    reports the first overlap with each holder's interval (``what`` names the thing held;
    default: the field).

    Example::

        at_most_one_holder(events, field="holds_lock", what="the lock")
        # CheckFailed: two nodes held the lock at once, from t=2.000 s: n1 held it from
        # t=1.000 s until t=2.500 s (it published holds_lock=False), and n2 from t=2.000 s ...
    """
    name = what or f"{field!r}"
    holds: list[Hold] = []
    open_: dict[str, int] = {}  # node -> index in holds of its hold in progress
    overlap: tuple[int, int] | None = None  # (earlier hold, later hold)

    def release(node: str, t: float, why: str) -> None:
        index = open_.pop(node, None)
        if index is not None:
            holds[index] = holds[index]._replace(end=t, ended_by=why)

    for e in events:
        if e.kind == STATUS and field in e["fields"]:
            node = str(e["node"])
            if e["fields"][field]:
                if node not in open_:
                    if open_ and overlap is None:
                        overlap = (min(open_.values()), len(holds))
                    open_[node] = len(holds)
                    holds.append(Hold(node, e.t, None, ""))
            else:
                release(node, e.t, f"it published {field}={_show(e['fields'][field])}")
        elif e.kind == CRASH:
            release(str(e["node"]), e.t, "it crashed")
        elif e.kind in (START, RESTART):
            release(str(e["node"]), e.t, "it restarted")
    if overlap is None:
        return holds

    def interval(hold: Hold) -> str:
        if hold.end is None:
            return f"from {_at(hold.start)} until the end of the trace"
        return f"from {_at(hold.start)} until {_at(hold.end)} ({hold.ended_by})"

    first, second = holds[overlap[0]], holds[overlap[1]]
    raise CheckFailed(
        f"two nodes held {name} at once, from {_at(second.start)}: {first.node} held it "
        f"{interval(first)}, and {second.node} {interval(second)}"
    )


# -- faults -----------------------------------------------------------------------------------


def _cuts(e: TraceEvent) -> bool | None:
    """Whether the fault state after ``e`` has partition cuts (None: the event does not say)."""
    faults = e.get("faults")
    if isinstance(faults, Mapping) and isinstance(faults.get("cuts"), list):
        return bool(faults["cuts"])
    change = str(e.get("change", ""))
    if change == "heal all partitions":
        return False
    if change.startswith("partition:"):
        return True
    return None


def heal_time(events: Iterable[TraceEvent]) -> float | None:
    """When the network last became whole: the last ``fault`` event that removed every cut.

    That is the last fault event whose state has no partition cut left
    (``fields["faults"]["cuts"] == []``, as after ``cluster.network.heal()``) while the state
    before it had some. Returns None if the network was never partitioned, or if it is still
    partitioned at the end of the trace (it never healed for good).

    Example::

        healed = heal_time(events)
        assert healed is not None, "the test never healed the partition"
    """
    cut = False
    healed: float | None = None
    for e in events:
        if e.kind not in (FAULT, RUN_START):
            continue
        now = _cuts(e)
        if now is None:
            continue
        if cut and not now and e.kind == FAULT:
            healed = e.t
        cut = now
    return None if cut else healed


# -- efficiency -------------------------------------------------------------------------------


def _outcomes(history: History) -> str:
    counts = Counter(op.kind for op in history.ops)
    return (
        f"{counts['invoke']} invoked: {counts['ok']} ok, {counts['fail']} failed, "
        f"{counts['timeout']} timed out"
    )


def messages_per_operation(
    events: Iterable[TraceEvent],
    history: History,
    *,
    at_most: float,
    types: Collection[str] | None = None,
) -> float:
    """Messages sent per operation completed ok must be at most ``at_most``; returns the ratio.

    Counts every ``send`` of the trace (or only those whose body ``type`` is in ``types``) and
    divides by the ``ok`` completions of the history. With no ok completion there is nothing to
    divide by: that fails too, with the numbers.

    Example::

        messages_per_operation(events, history, at_most=4, types={"put", "replicate"})
        # CheckFailed: 9.50 messages per operation completed ok, more than the 4 allowed:
        # 950 messages sent (of types put, replicate) for 100 operations completed ok ...
    """
    sent: Counter[str] = Counter()
    for e in events:
        if e.kind == SEND:
            body = e.get("body")
            kind = str(body.get("type")) if isinstance(body, Mapping) else "?"
            if types is None or kind in types:
                sent[kind] += 1
    total = sum(sent.values())
    ok = sum(1 for op in history.ops if op.kind == "ok")
    of_types = "" if types is None else f" (of types {', '.join(sorted(types))})"
    if ok == 0:
        raise CheckFailed(
            f"no operation completed ok ({_outcomes(history)}), so messages per operation "
            f"cannot be measured ({_plural(total, 'message')} sent{of_types})"
        )
    ratio = total / ok
    if ratio > at_most:
        most = ", ".join(f"{kind} × {n}" for kind, n in sent.most_common(5))
        raise CheckFailed(
            f"{ratio:.2f} messages per operation completed ok, more than the {at_most:g} "
            f"allowed: {_plural(total, 'message')} sent{of_types} for "
            f"{_plural(ok, 'operation')} completed ok; most sent: {most}"
        )
    return ratio


def latency_percentile(
    history: History, *, percentile: float, at_most: float, f: str | None = None
) -> float:
    """The ``percentile``-th latency (in percent, e.g. 99) of ok operations, at most ``at_most``.

    Latency is the completion's ``t`` minus the invoke's ``t``, over operations completed ``ok``
    (only those of operation ``f`` if given); the percentile is nearest-rank (the smallest
    latency at least ``percentile`` % of them do not exceed). Returns it. On failure the message
    gives the measured value and the slowest operations; with no ok operation it fails too.

    Example::

        latency_percentile(history, percentile=99, at_most=0.25, f="put")
        # CheckFailed: the 99th percentile latency of ok put operations is 0.532 s (over 200
        # operations), above the 0.250 s allowed; slowest: op 17 (put by c1, invoked at ...
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    done: list[tuple[float, Op, Op]] = [
        (end.t - start.t, start, end)
        for start, end in history.completions()
        if end is not None and end.kind == "ok" and (f is None or start.f == f)
    ]
    ops = "ok operations" if f is None else f"ok {f} operations"
    if not done:
        raise CheckFailed(
            f"no {ops} to measure latency over ({_outcomes(history)})"
            if f is None
            else f"no {ops} to measure latency over (of all operations: {_outcomes(history)})"
        )
    done.sort(key=lambda item: item[0])
    rank = max(1, math.ceil(percentile / 100 * len(done)))
    value = done[rank - 1][0]
    if value > at_most:
        slowest = [
            f"op {start.op_id} ({start.f} by {start.process}, invoked at {_at(start.t)}, "
            f"completed at {_at(end.t)}: {latency:.3f} s)"
            for latency, start, end in reversed(done[-5:])
        ]
        raise CheckFailed(
            f"the {percentile:g}{_ordinal(percentile)} percentile latency of {ops} is "
            f"{value:.3f} s (over {_plural(len(done), 'operation')}), above the {at_most:.3f} s "
            f"allowed; slowest: {'; '.join(slowest)}"
        )
    return value


def _ordinal(n: float) -> str:
    if n != int(n):
        return "th"
    n = int(n)
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


# -- crashes ----------------------------------------------------------------------------------


def crashed_by_itself(e: TraceEvent) -> bool:
    """A crash event the test did not order (``cluster.crash`` records "crashed on purpose")."""
    return e.kind == CRASH and not str(e.get("reason", "")).startswith(DELIBERATE_CRASH)


def no_crashes(
    events: Iterable[TraceEvent],
    *,
    nodes: Collection[str] | None = None,
    ignore_deliberate: bool = True,
) -> None:
    """Fail if any node (of ``nodes``, default all) crashed; the message lists every crash.

    Each crash is listed with its node, time and reason, and the traceback of the node's code
    (or the last output of a node process that died). Crashes the test ordered itself
    (``cluster.crash``/``cluster.restart``, reason "crashed on purpose ...") are not failures,
    unless ``ignore_deliberate=False``.

    Example::

        no_crashes(events)
        # CheckFailed: 1 crash: worker1 crashed at t=1.204 s: ZeroDivisionError in handler ...
        #     Traceback (most recent call last): ...
    """
    crashes = [
        e
        for e in events
        if e.kind == CRASH
        and (nodes is None or e.get("node") in nodes)
        and (crashed_by_itself(e) or not ignore_deliberate)
    ]
    if not crashes:
        return
    # Crashes with the same reason and traceback (every replica failing in the same stub, say)
    # are listed once, with every node and time, so a student reads each error once.
    same: dict[tuple[str, str, str], list[TraceEvent]] = {}
    for e in crashes:
        reason = str(e.get("reason", "(no reason given)"))
        key = (reason, str(e.get("traceback") or ""), str(e.get("output_tail") or ""))
        same.setdefault(key, []).append(e)
    lines = []
    for (reason, traceback, output), group in list(same.items())[:_LIST_AT_MOST]:
        if len(group) == 1:
            line = f"{group[0].get('node')} crashed at {_at(group[0].t)}: {reason}"
        else:
            where = ", ".join(f"{e.get('node')} at {_at(e.t)}" for e in group[:_LIST_AT_MOST])
            more = f" and {len(group) - _LIST_AT_MOST} more" if len(group) > _LIST_AT_MOST else ""
            line = f"the same crash {len(group)} times ({where}{more}): {reason}"
        if traceback:
            line += "\n" + _tail(traceback)
        elif output:
            line += "\n    its last output:\n" + _tail(output, 10)
        lines.append(line)
    if len(same) > _LIST_AT_MOST:
        lines.append(f"... and {len(same) - _LIST_AT_MOST} more kinds of crash")
    raise CheckFailed(f"{_plural(len(crashes), 'crash', 'crashes')}:\n" + "\n".join(lines))
