"""Checkers on what clients were told: their histories (``run.history``), not the nodes' status.

A node's status says what that node believes; a client's history says what the service promised
(an id, a verdict, a sum, a lock). These checkers judge the promises, from the ``ok`` answers
that harness clients recorded with ``client.call``, and raise ``CheckFailed`` in words, naming
the clients and the times:

- ``no_value_given_twice``: a value that must be new in every answer (an id, a ticket) was never
  given to two requests;
- ``answers_never_change``: once a client was told a value about something (a verdict, a
  committed sum), every later answer about it tells the same value: none changes it or takes it
  back;
- ``answers_match``: every answer about something, once it tells a value, tells the expected one.

Each reads one operation ``f`` (the request's ``type``, e.g. ``"query"``), a ``key`` (the field
of the request that names what it is about, e.g. ``"id"``) and a ``field`` (the field of the
answer that carries the value, e.g. ``"verdict"``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._history import History, Op
from ._results import CheckFailed

__all__ = ["Answer", "answers", "answers_match", "answers_never_change", "no_value_given_twice"]


@dataclass(frozen=True)
class Answer:
    """One ``ok`` answer a client got: to which request, about what, and the value it told."""

    client: str
    asked_at: float  # when the client sent the request
    t: float  # when the answer reached it
    request: Mapping[str, Any]  # the request's body
    value: Any  # the answer's ``field``, or None if it has none

    def words(self) -> str:
        """``"client-2 at t=1.234 s"``: who was told, and when."""
        return f"{self.client} at t={self.t:.3f} s"


def answers(history: History, *, f: str, field: str) -> Iterator[Answer]:
    """Every ``ok`` answer to an ``f`` request, in the order the clients got them."""
    done = [
        (completion, invoke)
        for invoke, completion in history.completions()
        if invoke.f == f and completion is not None and completion.kind == "ok"
    ]
    done.sort(key=lambda pair: (pair[0].t, pair[0].op_id))
    for completion, invoke in done:
        yield Answer(
            client=invoke.process,
            asked_at=invoke.t,
            t=completion.t,
            request=_body(invoke),
            value=_body(completion).get(field),
        )


def _body(op: Op) -> Mapping[str, Any]:
    return op.value if isinstance(op.value, Mapping) else {}


def no_value_given_twice(history: History, *, f: str, field: str, what: str) -> None:
    """No two ``ok`` answers to ``f`` requests carry the same ``field`` (None is not a value).

    ``what`` names the values for the message, e.g. ``"submission ids"``.
    """
    first: dict[Hashable, Answer] = {}
    for answer in answers(history, f=f, field=field):
        if answer.value is None:
            continue
        value = _hashable(answer.value)
        if value in first:
            earlier = first[value]
            raise CheckFailed(
                f"{what}: {answer.value!r} was given twice, to {earlier.words()} (asked at "
                f"t={earlier.asked_at:.3f} s) and to {answer.words()} (asked at "
                f"t={answer.asked_at:.3f} s): each {f} must get one of its own"
            )
        first[value] = answer


def answers_never_change(
    history: History, *, f: str, key: str, field: str, what: str, unknown: Any = None
) -> None:
    """Once an answer about ``request[key]`` told a value other than ``unknown``, every later
    answer about it tells that same value: it neither changes nor goes back to ``unknown``.

    Answers of ``unknown`` before any value was told are fine ("not yet").
    """
    told: dict[Hashable, Answer] = {}
    for answer in answers(history, f=f, field=field):
        subject = _hashable(answer.request.get(key))
        first = told.get(subject)
        if first is None:
            if answer.value != unknown:
                told[subject] = answer
            continue
        if answer.value != first.value:
            raise CheckFailed(
                f"{what} for {answer.request.get(key)!r} changed: {first.words()} was told "
                f"{first.value!r}, then {answer.words()} was told {answer.value!r}. What a "
                "client was told is a promise: later answers must keep it"
            )


def answers_match(
    history: History,
    *,
    f: str,
    key: str,
    field: str,
    expected: Mapping[Any, Any],
    what: str,
    unknown: Any = None,
) -> None:
    """Every answer about ``request[key]`` that tells a value (not ``unknown``) tells
    ``expected[request[key]]``; subjects missing from ``expected`` are not judged."""
    for answer in answers(history, f=f, field=field):
        subject = _hashable(answer.request.get(key))
        if answer.value == unknown or subject not in expected:
            continue
        if answer.value != expected[subject]:
            raise CheckFailed(
                f"{what} for {answer.request.get(key)!r}: {answer.words()} was told "
                f"{answer.value!r}, but the right answer is {expected[subject]!r}"
            )


def _hashable(value: Any) -> Hashable:
    """``value`` as a dict key: lists and dicts (from JSON) become tuples."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    return value  # type: ignore[no-any-return]
