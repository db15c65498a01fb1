"""Sequential models for the linearizability checker, and how a client history's values read.

A model says what one object (a register, one key of a store, a lock) may answer when its
operations run one at a time: ``step(state, op, output)`` is whether ``op`` could have been
answered ``output`` in ``state``, and the state after it. States must be hashable (the search
remembers which (operations done, state) it has seen) and ``step`` must be pure.

How a history's values read (:func:`standard_read`), for every model:

- the invoke's ``value`` is a dict: ``"key"`` names the key (``KeyValueModel``; optional), and
  ``"value"`` is the argument (``write``/``put``: the value; ``cas``: ``[from, to]``); any other
  invoke value (``{"type": "acquire"}`` say) means no argument;
- an ``ok`` answer's ``value`` is a dict with a ``"value"`` (what a read or get returned), or
  else the answer itself (a lock's ``{"type": "granted", ...}``);
- a ``fail`` answer took no effect: it is left out; a ``timeout`` or no answer yet may have
  taken effect at any moment after its invoke, or never: its output is :data:`UNKNOWN`.

Lists in values become tuples and dicts :class:`FrozenDict`, so that values can be states.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ._history import Op

__all__ = [
    "UNKNOWN",
    "FrozenDict",
    "KeyValueModel",
    "LeaseLockModel",
    "LockModel",
    "Model",
    "OpInput",
    "RegisterModel",
    "freeze",
    "lease_read",
    "standard_read",
]


class _Unknown:
    """The output of an operation whose answer never came: any answer is possible."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


class FrozenDict(dict[str, Any]):
    """A dict that can be a state or part of one (its values are frozen too)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


def freeze(value: Any) -> Any:
    """``value`` with its lists as tuples and its dicts as :class:`FrozenDict`: hashable."""
    if isinstance(value, Mapping):
        return FrozenDict({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class OpInput:
    """What an operation asked: ``f`` by ``process`` on ``key`` with ``arg``."""

    f: str
    process: str
    key: Hashable = None
    arg: Hashable = None


def standard_read(invoked: Op, completed: Op | None) -> tuple[OpInput, Any] | None:
    """An operation's input and output by the conventions in this module's docstring.

    A lab whose history says things otherwise passes its own function of the same shape to the
    checker (``read=...``); returning None leaves the operation out (it took no effect).
    """
    asked = invoked.value
    if isinstance(asked, Mapping):
        key = freeze(asked.get("key"))
        arg = freeze(asked.get("value"))
    else:
        key, arg = None, freeze(asked)
    if completed is None or completed.kind != "ok":
        output: Any = UNKNOWN
    elif isinstance(completed.value, Mapping) and "value" in completed.value:
        output = freeze(completed.value["value"])
    else:
        output = freeze(completed.value)
    return OpInput(invoked.f, invoked.process, key, arg), output


class Model(Protocol):
    """A sequential specification the checker can search against."""

    @property
    def initial(self) -> Hashable:
        """The state before any operation."""
        ...

    def step(self, state: Any, op: OpInput, output: Any) -> tuple[bool, Any]:
        """Whether ``op`` could have answered ``output`` in ``state`` (``output`` is
        :data:`UNKNOWN` for an operation without an answer: then any answer will do), and the
        state after it. Raises ValueError for an operation the model does not know."""
        ...

    def read_only(self, op: OpInput) -> bool:
        """Whether ``op`` never changes the state: without an answer it constrains nothing, and
        the checker leaves it out (this also checks ``op.f``: ValueError if unknown)."""
        ...

    def key_of(self, op: OpInput) -> Hashable:
        """Which independent object ``op`` is on: operations on different keys are checked
        separately (P-compositionality); one object: always None."""
        ...

    def describe_state(self, state: Any) -> str:
        """The state in words: "the register held 3"."""
        ...


def _unknown_op(model: str, op: OpInput, known: tuple[str, ...]) -> ValueError:
    return ValueError(
        f"{model} knows the operations {', '.join(known)}; the history has {op.f!r} "
        f"(by {op.process}): pass read=... to map or leave out other operations"
    )


class _Registers:
    """What a register and one key of a store share: a read, a write and a compare-and-set,
    under the names ``_names`` gives (read, write, cas)."""

    def _names(self) -> tuple[str, str, str]:
        raise NotImplementedError

    def step(self, state: Any, op: OpInput, output: Any) -> tuple[bool, Any]:
        read, write, cas = self._names()
        if op.f == read:
            return output is UNKNOWN or output == state, state
        if op.f == write:
            return True, op.arg
        if op.f == cas:
            expected, new = _pair(op)
            if output is UNKNOWN:
                return True, new if state == expected else state
            if output is False:
                return state != expected, state
            return state == expected, new
        raise _unknown_op(type(self).__name__, op, self._names())

    def read_only(self, op: OpInput) -> bool:
        if op.f not in self._names():
            raise _unknown_op(type(self).__name__, op, self._names())
        return op.f == self._names()[0]


def _pair(op: OpInput) -> tuple[Any, Any]:
    if isinstance(op.arg, tuple) and len(op.arg) == 2:
        return op.arg[0], op.arg[1]
    raise ValueError(f"{op.f} by {op.process} needs [from, to] as its value, not {op.arg!r}")


@dataclass(frozen=True)
class RegisterModel(_Registers):
    """One register: ``read`` answers its value, ``write(v)`` sets it, ``cas([a, b])`` sets it
    to b if it holds a. A cas answered False (or ``{"value": false}``) says it did not hold a;
    any other answer says the swap happened (a client told "no" may also record a ``fail``:
    left out, as taking no effect). The names of the operations can be changed."""

    initial: Hashable = None
    read: str = "read"
    write: str = "write"
    cas: str = "cas"

    def _names(self) -> tuple[str, str, str]:
        return self.read, self.write, self.cas

    def key_of(self, op: OpInput) -> Hashable:
        return None

    def describe_state(self, state: Any) -> str:
        return f"the register held {state!r}"


@dataclass(frozen=True)
class KeyValueModel(_Registers):
    """A store of registers, one per key: ``get`` answers a key's value (``initial`` until it is
    first put), ``put(v)`` sets it, ``cas([a, b])`` as for :class:`RegisterModel`. Keys are
    independent objects, so each key's operations are checked on their own (its state is that
    key's value): a history is linearizable exactly when every key's part is."""

    initial: Hashable = None
    get: str = "get"
    put: str = "put"
    cas: str = "cas"

    def _names(self) -> tuple[str, str, str]:
        return self.get, self.put, self.cas

    def key_of(self, op: OpInput) -> Hashable:
        return op.key

    def describe_state(self, state: Any) -> str:
        return f"the key held {state!r}"


@dataclass(frozen=True)
class LockModel:
    """One lock, held by at most one process (the state: its holder, or None).

    ``acquire`` answered with a grant (True, or an answer whose ``type`` is in ``granted``) was
    possible only if the lock was free or already the caller's (a renewal); answered with a
    refusal (an answer whose ``type`` is in ``refused``) only if another process held it.
    ``release`` frees the lock if the caller holds it and changes nothing otherwise, whatever it
    was answered: a release by a client that does not hold the lock must not free it. Any other
    answer (a redirect to the leader, "unavailable") took no effect."""

    acquire: str = "acquire"
    release: str = "release"
    granted: tuple[str, ...] = ("granted",)
    refused: tuple[str, ...] = ("busy",)

    @property
    def initial(self) -> Hashable:
        return None

    def step(self, state: Any, op: OpInput, output: Any) -> tuple[bool, Any]:
        if op.f == self.acquire:
            free_or_mine = state is None or state == op.process
            if output is UNKNOWN:
                return True, op.process if free_or_mine else state
            answer = output.get("type") if isinstance(output, Mapping) else output
            if output is True or answer in self.granted:
                return free_or_mine, op.process
            if answer in self.refused:
                return not free_or_mine, state
            return True, state
        if op.f == self.release:
            return True, None if state == op.process else state
        raise _unknown_op(type(self).__name__, op, (self.acquire, self.release))

    def read_only(self, op: OpInput) -> bool:
        if op.f not in (self.acquire, self.release):
            raise _unknown_op(type(self).__name__, op, (self.acquire, self.release))
        return False

    def key_of(self, op: OpInput) -> Hashable:
        return None

    def describe_state(self, state: Any) -> str:
        return "the lock was free" if state is None else f"{state} held the lock"


def lease_read(invoked: Op, completed: Op | None) -> tuple[OpInput, Any] | None:
    """:func:`standard_read` with the operation's times as its argument, for
    :class:`LeaseLockModel`: ``arg`` is (invoked at, answered at), answered at ``inf`` without
    an answer."""
    read = standard_read(invoked, completed)
    if read is None:
        return None
    op, output = read
    answered = completed.t if completed is not None and completed.kind == "ok" else math.inf
    return OpInput(op.f, op.process, op.key, (invoked.t, answered)), output


@dataclass(frozen=True)
class LeaseLockModel(LockModel):
    """A lock whose grants run out: a grant's answer says until when (its ``expires`` field, on
    the clock of the history's times), and from then on the lock is free again.

    Why times in a sequential model: whether a grant to another client was right depends on
    *when* it took effect, after the holder's lease ran out or not. An operation takes effect at
    some instant between its request and its answer, so it was possible if it was possible at
    one such instant; leases only run out as time passes, so the latest instant (the answer) is
    the one to try for a grant, the earliest (the request) for a refusal. Read the history with
    :func:`lease_read`, which puts each operation's times in its argument.

    ``acquire`` answered with a grant was possible if the lock was free, the caller's, or its
    holder's lease had run out by the answer (give ``slack`` seconds for clocks that differ a
    little, on real sockets); with a refusal (naming the ``holder``, if it does) only if another
    held it with time left at the request. ``release`` frees the lock if the caller holds it and
    changes nothing otherwise, whatever it was answered. Any other answer (a redirect,
    "unavailable") took no effect. A grant whose answer was lost holds for an unknown time: any
    later grant or refusal may follow it.
    """

    # The operations' names and answers are LockModel's; its state is (holder, expires) here,
    # expires None when unknown.
    expires: str = "expires"
    holder: str = "holder"
    slack: float = 0.0

    def step(self, state: Any, op: OpInput, output: Any) -> tuple[bool, Any]:
        asked, answered = _times(op)
        holder, expires = state if state is not None else (None, None)
        if op.f == self.acquire:
            others = holder is not None and holder != op.process
            if output is UNKNOWN:  # granted at some later instant, for an unknown time
                return True, (op.process, None)
            answer = output.get("type") if isinstance(output, Mapping) else output
            if output is True or answer in self.granted:
                held = others and expires is not None and expires > answered + self.slack
                return not held, (op.process, _expiry(output, self.expires))
            if answer in self.refused:
                named = output.get(self.holder) if isinstance(output, Mapping) else None
                held = others and (expires is None or expires > asked - self.slack)
                return held and named in (None, holder), state
            return True, state
        if op.f == self.release:
            return True, None if holder == op.process else state
        raise _unknown_op(type(self).__name__, op, (self.acquire, self.release))

    def describe_state(self, state: Any) -> str:
        if state is None:
            return "the lock was free"
        holder, expires = state
        until = "for a time its lost answer said" if expires is None else f"until t={expires:.3f} s"
        return f"{holder} held the lock {until}"


def _times(op: OpInput) -> tuple[float, float]:
    if isinstance(op.arg, tuple) and len(op.arg) == 2:
        return float(op.arg[0]), float(op.arg[1])
    raise ValueError(
        f"{op.f} by {op.process} has no times: read the history with lease_read for LeaseLockModel"
    )


def _expiry(output: Any, field: str) -> float | None:
    value = output.get(field) if isinstance(output, Mapping) else None
    return float(value) if isinstance(value, int | float) else None
