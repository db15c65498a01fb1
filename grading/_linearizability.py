"""Linearizability of a client history: could every answer clients got have come from one copy
of the object, each operation taking effect at one instant between its request and its answer?

This module reads the history (:mod:`._models` says how), splits it by key when the model's
objects are independent (P-compositionality: a history is linearizable exactly when each key's
part is, and small parts are searched far faster than one big one), runs the search
(:mod:`._wgl`) and, when it fails, explains the failure in the words of the history: the answer
that no order explains, the operations around it, and what the object held whenever it could
have taken effect.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._history import History, Op
from ._models import UNKNOWN, Model, OpInput, standard_read
from ._results import CheckFailed
from ._wgl import SearchOp, search

__all__ = [
    "Linearizability",
    "LinearizabilityFailed",
    "Operation",
    "check_linearizable",
    "linearizability",
]

#: how a history's invoke and completion become a model's input and output (None: leave it out)
Read = Callable[[Op, Op | None], tuple[OpInput, Any] | None]

#: the default search budget: about two seconds of search at most, the same verdict everywhere
DEFAULT_MAX_STEPS = 1_000_000
#: at most this many lines of a failure's window are shown
SHOWN = 16


@dataclass(frozen=True)
class Operation:
    """One operation of the history, as the checker read it."""

    op_id: int
    input: OpInput
    #: what the client was told (:data:`UNKNOWN` without an answer)
    output: Any
    #: when it was invoked, and when it was answered (inf without an answer)
    start: float
    end: float
    #: "ok", "timeout" or "pending"
    outcome: str
    #: when the client gave up waiting (a timeout), else None
    gave_up: float | None = None
    #: whether it only reads (its answer is a value, never a plain "ok")
    reads: bool = False
    #: where its invoke and its completion are in ``history.ops``: at equal times, what was
    #: recorded first happened first (a client answered, then asked again)
    recorded: tuple[int, int] = field(default=(0, 0), compare=False, repr=False)

    def words(self) -> str:
        """ "t=1.200-1.450 s client-2 write(3) -> ok"."""
        op = self.input
        args = ", ".join(_value(a) for a in (op.key, op.arg) if a is not None)
        call = f"{op.process} {op.f}({args})"
        if self.outcome == "ok":
            plain = self.output is None or self.output is True or self.output == {}
            told = "ok" if plain and not self.reads else _value(self.output)
            return f"t={self.start:.3f}-{self.end:.3f} s {call} -> {told}"
        if self.outcome == "timeout" and self.gave_up is not None:
            return (
                f"t={self.start:.3f}-{self.gave_up:.3f} s {call} -> timed out "
                "(it may or may not have taken effect)"
            )
        return f"t={self.start:.3f} s- {call} -> no answer yet (it may take effect later)"


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        fields = ", ".join(f"{k}={_value(v)}" for k, v in value.items() if k != "type")
        if "type" in value:
            return f"{value['type']} ({fields})" if fields else str(value["type"])
        return "{" + fields + "}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Linearizability:
    """The checker's verdict on a history, and on a failure why, in words."""

    verdict: Literal["linearizable", "not linearizable", "unknown"]
    #: how many operations were checked (the ones without an answer included)
    operations: int
    #: how many steps the search took (the budget is ``max_steps``)
    steps: int
    #: the key whose operations failed (None for a one-object model)
    key: Hashable = None
    #: the operation that could not be placed (unknown: the furthest the search got stuck at)
    culprit: Operation | None = None
    #: the operations around it, by start time: the smallest stretch of the history to read
    window: tuple[Operation, ...] = ()
    #: what the object could hold whenever the culprit could have taken effect, in words
    states: tuple[str, ...] = ()
    #: the verdict in plain words, one line per operation of the window
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == "linearizable"

    @property
    def unknown(self) -> bool:
        return self.verdict == "unknown"

    @property
    def span(self) -> tuple[float, float] | None:
        """The window's time span (start, end): where to look in the trace."""
        if self.culprit is None or not self.window:
            return None
        return min(op.start for op in self.window), self.culprit.end


class LinearizabilityFailed(CheckFailed):
    """:func:`check_linearizable` found a history that is not linearizable (or could not
    decide): ``result`` has the details, ``span`` the time span to mark in a trace."""

    def __init__(self, result: Linearizability) -> None:
        super().__init__(result.message)
        self.result = result
        self.span = result.span


def operations(history: History, model: Model, *, read: Read = standard_read) -> list[Operation]:
    """The history's operations as the checker reads them: a ``fail`` took no effect and is
    left out, and so is a read-only operation without an answer (it constrains nothing)."""
    where: dict[tuple[int, bool], int] = {
        (op.op_id, op.kind == "invoke"): i for i, op in enumerate(history.ops)
    }
    result = []
    for invoked, completed in history.completions():
        if completed is not None and completed.kind == "fail":
            continue
        got = read(invoked, completed)
        if got is None:
            continue
        op, output = got
        answered = completed is not None and completed.kind == "ok" and output is not UNKNOWN
        reads = model.read_only(op)
        if not answered and reads:
            continue
        result.append(
            Operation(
                op_id=invoked.op_id,
                input=op,
                output=output if answered else UNKNOWN,
                start=invoked.t,
                end=completed.t if answered and completed is not None else math.inf,
                outcome=("ok" if answered else "pending" if completed is None else "timeout"),
                gave_up=completed.t if completed is not None and not answered else None,
                reads=reads,
                recorded=(where[invoked.op_id, True], where.get((invoked.op_id, False), -1)),
            )
        )
    return result


def linearizability(
    history: History,
    model: Model,
    *,
    read: Read = standard_read,
    max_steps: int = DEFAULT_MAX_STEPS,
    seconds: float | None = None,
) -> Linearizability:
    """Whether ``history`` is linearizable for ``model``; never raises on a verdict.

    ``read`` maps an invoke and its completion to the model's input and output (default:
    :func:`standard_read`). The search gives up after ``max_steps`` steps (or ``seconds`` of
    wall time, if given: a budget in steps gives the same verdict on every machine) with the
    verdict "unknown".
    """
    ops = operations(history, model, read=read)
    deadline = None if seconds is None else time.monotonic() + seconds
    by_key: dict[Hashable, list[Operation]] = {}
    for op in ops:
        by_key.setdefault(model.key_of(op.input), []).append(op)
    steps = 0
    for key, part in by_key.items():
        searched = _search_ops(part)
        found = search(searched, model, max_steps=max_steps - steps, deadline=deadline)
        steps += found.steps
        if found.outcome == "unknown":
            budget = f"max_steps={max_steps:,}" if steps >= max_steps else f"seconds={seconds:g}"
            furthest = None if found.stuck is None else part[found.stuck]
            return _unknown(len(ops), part, key, steps, budget, furthest, keyed=len(by_key) > 1)
        if found.outcome == "not linearizable" and found.stuck is not None:
            states = tuple(model.describe_state(s) for s in found.states)
            causes = [c for c in found.causes if c >= 0]
            return _failure(len(ops), part, searched, found.stuck, causes, states, key, steps)
    return Linearizability("linearizable", len(ops), steps)


def check_linearizable(
    history: History,
    model: Model,
    *,
    read: Read = standard_read,
    max_steps: int = DEFAULT_MAX_STEPS,
    seconds: float | None = None,
    allow_unknown: bool = False,
) -> Linearizability:
    """Check that ``history`` is linearizable for ``model`` (see :func:`linearizability`);
    raises :class:`LinearizabilityFailed` (a ``CheckFailed``) with the window in words if not,
    and if the search ran out of budget unless ``allow_unknown``. Returns the verdict."""
    result = linearizability(history, model, read=read, max_steps=max_steps, seconds=seconds)
    if not result.ok and not (result.unknown and allow_unknown):
        raise LinearizabilityFailed(result)
    return result


def _search_ops(part: list[Operation]) -> list[SearchOp]:
    # positions in time order; at equal times, the order the history recorded them in (a
    # client's answer recorded before another's request came first)
    events: list[tuple[float, int, int, bool]] = []
    for i, op in enumerate(part):
        events.append((op.start, op.recorded[0], i, True))
        if op.outcome == "ok":
            events.append((op.end, op.recorded[1], i, False))
    events.sort()
    call: dict[int, int] = {}
    ret: dict[int, int] = {}
    for position, (_, _, i, is_call) in enumerate(events):
        (call if is_call else ret)[i] = position
    return [SearchOp(op.input, op.output, call[i], ret.get(i)) for i, op in enumerate(part)]


def _unknown(
    total: int,
    part: list[Operation],
    key: Hashable,
    steps: int,
    budget: str,
    furthest: Operation | None,
    *,
    keyed: bool,
) -> Linearizability:
    unanswered = sum(op.outcome != "ok" for op in part)
    where = f" on key {_value(key)}" if keyed else ""
    message = (
        f"unknown: search budget exhausted after {steps:,} steps ({budget}){where}"
        f": {len(part)} operations, {unanswered} of them without an answer. The checker could "
        "not decide whether the answers are linearizable: every operation without an answer "
        "may have taken effect at any moment after its request, and many of them at once, "
        "overlapping, multiply the orders to try"
    )
    if furthest is not None:
        message += (
            f". The furthest it got: some order explains every answer before "
            f"t={furthest.end:.3f} s, and it had found none yet that also explains "
            f"{furthest.words()}"
        )
    return Linearizability("unknown", total, steps, key, furthest, message=message)


def _failure(
    total: int,
    part: list[Operation],
    searched: list[SearchOp],
    stuck: int,
    causes: list[int],
    states: tuple[str, ...],
    key: Hashable,
    steps: int,
) -> Linearizability:
    culprit = part[stuck]
    culprit_ret = searched[stuck].ret
    assert culprit_ret is not None  # only an answer can be impossible to explain
    # the window: from the first of the operations that put the object in the states the
    # culprit met (else from the culprit's request) to the culprit's answer, every operation
    # that overlaps it; consecutive in time, so that it reads as a stretch of the trace
    since = min((searched[c].call for c in causes), default=searched[stuck].call)
    window = tuple(
        sorted(
            (
                op
                for op, s in zip(part, searched, strict=True)
                if s.call < culprit_ret and (s.ret is None or s.ret > since)
            ),
            key=lambda op: (op.start, op.op_id),
        )
    )
    start = min(op.start for op in window)
    where = f" (key {_value(key)})" if key is not None else ""
    lines = [
        f"not linearizable{where}: no order of the operations explains what {culprit.input.process}"
        f" was told: {culprit.words()}.",
    ]
    if states:
        more = ", or others" if len(states) >= 5 else ""
        lines.append(
            "Wherever it could take effect in an order that explains every earlier answer, "
            f"{' or '.join(states)}{more}."
        )
    lines.append(
        f"Some order explains every answer given before t={culprit.end:.3f} s. The operations "
        f"around this one, from t={start:.3f} s (each takes effect at one instant between its "
        "request and its answer):"
    )
    shown: list[Operation | None] = list(window)
    if len(window) > SHOWN:
        # a long stretch (a lock held across many requests): its start and its end tell the story
        shown = [*window[: SHOWN // 4], None, *window[len(window) - SHOWN + SHOWN // 4 + 1 :]]
    for op in shown:
        if op is None:
            lines.append(f"  ... ({len(window) - SHOWN + 1} more operations)")
            continue
        mark = "   <- could not be placed" if op is culprit else ""
        lines.append(f"  {op.words()}{mark}")
    return Linearizability(
        "not linearizable",
        total,
        steps,
        key,
        culprit,
        window,
        states,
        "\n".join(lines),
    )
