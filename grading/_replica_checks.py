"""Checkers for replicated stores whose values carry version vectors, from the client history.

A replicated key-value store answers a write with the version it gave the value, and a read with
what the replica keeps (one value, or several *siblings* after concurrent writes) and its version.
A version is a **version vector**: a map from node names to counts, ``{"replica-1": 3}``; ``a``
*descends from* ``b`` (:func:`descends`) when it is at least as large in every entry (a missing
entry is 0): whoever wrote ``a`` had seen ``b``. These checkers judge what clients were told
(``run.history``), by versions, never by clocks:

- :func:`acknowledged_writes_kept`: no acknowledged write is lost: what every replica keeps at the
  end descends from the version of every write a client was told was stored;
- :func:`converged_within`: after the network healed, every replica keeps the same siblings at
  the same version (the lab waits, then reads each replica: this judges those reads);
- :func:`session_guarantees`: read-your-writes and monotonic reads: each read of a client
  descends from every version that client was told before it asked;
- :func:`stale_reads_within`: no read misses a write acknowledged (to anyone) more than
  ``bound`` seconds before the read began;
- :func:`acknowledged_writes_ordered`: with one writer at a time (a primary), of any two
  acknowledged writes of a key one descends from the other;
- :func:`versioned_kv_read`: a ``read=`` function that lets :func:`check_linearizable` judge the
  same history as a :class:`KeyValueModel` (the writes, and the reads that went to the primary).

How the history reads (:class:`ReplicaOps`, every name a keyword): a write is an invoke ``f="put"``
whose value has the ``key`` and the ``value``, acknowledged by an ``ok`` answer of type
``"put_ok"`` with the ``version``; a read is ``f="get"`` with the ``key`` (and the client's
session version as ``after``, if it sends one), answered by ``"get_ok"`` with the ``version``
and the ``siblings`` (each a dict with its ``value``), or a single ``value``. Any other answer
(``not_primary``, ``behind``), a ``fail`` or a ``timeout`` tells the client nothing it can count
on, and these checkers leave it out. Each key is checked on its own (``key=`` checks one).

Each raises :class:`CheckFailed` with the clients, times, values and versions involved, in plain
words.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._history import History, Op
from ._models import UNKNOWN, OpInput, freeze
from ._results import CheckFailed

__all__ = [
    "ReplicaOps",
    "ReplicaRead",
    "ReplicaWrite",
    "acknowledged_writes",
    "acknowledged_writes_kept",
    "acknowledged_writes_ordered",
    "answered_reads",
    "converged_within",
    "descends",
    "merge_versions",
    "session_guarantees",
    "stale_reads_within",
    "version_words",
    "versioned_kv_read",
]

#: a version vector: node name -> how many writes of that node its writer had seen
Version = Mapping[str, int]


# -- versions --------------------------------------------------------------------------------------


def descends(a: Version, b: Version) -> bool:
    """Whether version ``a`` descends from ``b``: at least as large in every entry (a missing
    entry is 0). Every version descends from itself and from ``{}``; when neither of two
    versions descends from the other, they are concurrent."""
    return all(a.get(name, 0) >= count for name, count in b.items())


def merge_versions(*versions: Version) -> dict[str, int]:
    """The smallest version that descends from every one of ``versions``: entry by entry the
    largest."""
    merged: dict[str, int] = {}
    for version in versions:
        for name, count in version.items():
            merged[name] = max(merged.get(name, 0), count)
    return merged


def version_words(version: Version) -> str:
    """``{replica-1: 3, replica-3: 1}``: a version in a message, its entries in name order."""
    return "{" + ", ".join(f"{n}: {c}" for n, c in sorted(version.items())) + "}"


def _at(t: float) -> str:
    return f"t={t:.3f} s"


# -- how a history reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaOps:
    """How a history's writes and reads read: the operations' names (``Op.f``), the answers'
    types, and the fields of the requests and answers (all keywords, defaults as in lab 6)."""

    #: the write request (``Op.f``), and the type of the answer that acknowledges it
    put: str = "put"
    put_ok: str = "put_ok"
    #: the read request, and the type of the answer that tells what a replica keeps
    get: str = "get"
    get_ok: str = "get_ok"
    #: request field: the key (both); the value written (a write)
    key: str = "key"
    value: str = "value"
    #: request field of a read: the client's session version (optional: for messages)
    after: str = "after"
    #: answer field: the version (both answers)
    version: str = "version"
    #: answer field of a read: the siblings, each a dict with its ``value`` (else the answer's
    #: ``value`` is the one value)
    siblings: str = "siblings"


DEFAULT_OPS = ReplicaOps()


@dataclass(frozen=True)
class ReplicaWrite:
    """A write a client was told was stored (acknowledged)."""

    client: str
    key: Hashable
    value: Any
    version: Mapping[str, int]
    #: when the client asked, and when the acknowledgement reached it
    invoked: float
    acknowledged: float
    #: the node the write was sent to (None: not recorded)
    dest: str | None = None

    def words(self) -> str:
        at = f" at {self.dest}" if self.dest else ""
        return (
            f"{self.client}'s write of {self.key} = {self.value!r}{at}, acknowledged at "
            f"{_at(self.acknowledged)} with version {version_words(self.version)}"
        )


@dataclass(frozen=True)
class ReplicaRead:
    """A read a replica answered: the values it keeps for the key (several: siblings), and
    their version."""

    client: str
    key: Hashable
    values: tuple[Any, ...]
    version: Mapping[str, int]
    #: the session version the client sent with the read ({} if none)
    after: Mapping[str, int]
    #: when the client asked, and when the answer reached it
    invoked: float
    answered: float
    #: the replica that answered (None: not recorded)
    dest: str | None = None

    def words(self) -> str:
        at = f" at {self.dest}" if self.dest else ""
        return (
            f"{self.client}'s read{at} at {_at(self.answered)}, answered {self.key} = "
            f"{list(self.values)} at version {version_words(self.version)}"
        )

    def kept(self) -> str:
        """What the replica keeps, in words: ``replica-2 keeps x = ['v3'] at version {...}``."""
        return (
            f"{self.dest or self.client} keeps {self.key} = {list(self.values)} at version "
            f"{version_words(self.version)} (read at {_at(self.answered)})"
        )


def _answer(completed: Op | None, kind: str) -> Mapping[str, Any] | None:
    if completed is None or completed.kind != "ok" or not isinstance(completed.value, Mapping):
        return None
    return completed.value if completed.value.get("type") == kind else None


def _request(invoked: Op) -> Mapping[str, Any]:
    return invoked.value if isinstance(invoked.value, Mapping) else {}


def acknowledged_writes(
    history: History, *, key: Hashable = None, ops: ReplicaOps = DEFAULT_OPS
) -> list[ReplicaWrite]:
    """Every write a client was told was stored (of ``key``; None: every key), by the time the
    acknowledgement reached it."""
    writes = []
    for invoked, completed in history.completions():
        answer = _answer(completed, ops.put_ok) if invoked.f == ops.put else None
        request = _request(invoked)
        if answer is None or completed is None or (key is not None and request.get(ops.key) != key):
            continue
        writes.append(
            ReplicaWrite(
                invoked.process,
                freeze(request.get(ops.key)),
                request.get(ops.value),
                dict(answer.get(ops.version) or {}),
                invoked.t,
                completed.t,
                invoked.dest,
            )
        )
    return sorted(writes, key=lambda w: w.acknowledged)


def _values(answer: Mapping[str, Any], ops: ReplicaOps) -> tuple[Any, ...]:
    siblings = answer.get(ops.siblings)
    if isinstance(siblings, list | tuple):
        return tuple(s.get(ops.value) if isinstance(s, Mapping) else s for s in siblings)
    return (answer[ops.value],) if ops.value in answer else ()


def answered_reads(
    history: History, *, key: Hashable = None, ops: ReplicaOps = DEFAULT_OPS
) -> list[ReplicaRead]:
    """Every read a replica answered (of ``key``; None: every key), by the time the answer
    reached the client. Refusals (a replica behind the session, say) are left out."""
    reads = []
    for invoked, completed in history.completions():
        answer = _answer(completed, ops.get_ok) if invoked.f == ops.get else None
        request = _request(invoked)
        if answer is None or completed is None or (key is not None and request.get(ops.key) != key):
            continue
        reads.append(
            ReplicaRead(
                invoked.process,
                freeze(request.get(ops.key)),
                _values(answer, ops),
                dict(answer.get(ops.version) or {}),
                dict(request.get(ops.after) or {}),
                invoked.t,
                completed.t,
                invoked.dest,
            )
        )
    return sorted(reads, key=lambda r: r.answered)


# -- the checkers ----------------------------------------------------------------------------------


def acknowledged_writes_kept(
    history: History,
    finals: Iterable[ReplicaRead],
    *,
    key: Hashable = None,
    ops: ReplicaOps = DEFAULT_OPS,
) -> int:
    """No acknowledged write is lost: each of ``finals`` (what the replicas keep at the end, one
    read of each, e.g. from :func:`answered_reads`) descends from the version of every write of
    its key a client was told was stored in ``history``: the write is kept, or replaced by a
    write whose writer had seen it. Returns how many acknowledged writes it checked."""
    writes = acknowledged_writes(history, key=key, ops=ops)
    for final in finals:
        for write in writes:
            if write.key == final.key and not descends(final.version, write.version):
                raise CheckFailed(
                    f"{write.words()} is lost: at the end {final.kept()}, which does not descend "
                    "from it (neither it nor a write that saw it is left)"
                )
    return len(writes)


def converged_within(finals: Iterable[ReplicaRead], *, since: float, bound: float) -> ReplicaRead:
    """Convergence: ``finals`` (one read of each replica, made once the replicas agreed or
    ``bound`` seconds after ``since``, e.g. the heal, whichever came first: the lab waits) all
    answer the same siblings at the same version. Returns one of them."""
    finals = list(finals)
    if not finals:
        raise CheckFailed("no replica's read to compare: nothing shows that the replicas agree")
    said = {(tuple(sorted(map(repr, f.values))), version_words(f.version)) for f in finals}
    if len(said) > 1:
        each = "; ".join(f.kept() for f in finals)
        raise CheckFailed(
            f"the network was whole again from {_at(since)}, and the replicas, given {bound:g} s "
            f"to agree, disagreed: {each}. Replicas exchange what they keep (anti-entropy), and "
            "merging keeps every version no other descends from, so they end with the same "
            "siblings at the same version"
        )
    return finals[0]


def session_guarantees(
    history: History, *, key: Hashable = None, ops: ReplicaOps = DEFAULT_OPS
) -> int:
    """Read-your-writes and monotonic reads: each read of a client descends from every version
    that client was told (a write acknowledged, a read answered) before it asked. Returns how
    many reads it checked."""
    reads = answered_reads(history, key=key, ops=ops)
    told: list[tuple[float, str, Hashable, Mapping[str, int], str]] = [
        (w.acknowledged, w.client, w.key, w.version, w.words())
        for w in acknowledged_writes(history, key=key, ops=ops)
    ]
    told += [(r.answered, r.client, r.key, r.version, r.words()) for r in reads]
    told.sort(key=lambda x: x[0])
    for read in reads:
        for t, client, told_key, version, said in told:
            if t >= read.invoked:
                break
            if (
                client == read.client
                and told_key == read.key
                and not descends(read.version, version)
            ):
                raise CheckFailed(
                    f"{read.words()}, older than what {read.client} had been told before it "
                    f"asked: {said}. A replica behind the client's session (the client sent "
                    f"{version_words(read.after)}) must not answer the read: it says so, and "
                    "the client asks another"
                )
    return len(reads)


def stale_reads_within(
    history: History, bound: float, *, key: Hashable = None, ops: ReplicaOps = DEFAULT_OPS
) -> int:
    """Bounded staleness: every read includes (descends from) every write of its key
    acknowledged, to any client, more than ``bound`` seconds before the read began. Returns how
    many reads it checked."""
    writes = acknowledged_writes(history, key=key, ops=ops)
    reads = answered_reads(history, key=key, ops=ops)
    for read in reads:
        for write in writes:
            if write.acknowledged >= read.invoked - bound:
                break  # by acknowledgement time: the later ones are recent enough
            if write.key == read.key and not descends(read.version, write.version):
                raise CheckFailed(
                    f"{read.words()}, which does not include {write.words()}: "
                    f"{read.invoked - write.acknowledged:.3f} s before the read began. A replica "
                    f"must not lag more than {bound:g} s behind an acknowledged write"
                )
    return len(reads)


def acknowledged_writes_ordered(
    history: History, *, key: Hashable = None, ops: ReplicaOps = DEFAULT_OPS
) -> int:
    """One writer at a time: of any two acknowledged writes of a key, one descends from the
    other (the writes form one line). Returns how many acknowledged writes it checked."""
    writes = acknowledged_writes(history, key=key, ops=ops)
    for i, a in enumerate(writes):
        for b in writes[i + 1 :]:
            if a.key != b.key or descends(b.version, a.version) or descends(a.version, b.version):
                continue
            raise CheckFailed(
                f"{a.words()}; and {b.words()}: neither version descends from the other, so "
                "two writers took writes that did not see each other (two primaries, or a "
                "primary that wrote before it had caught up). With one primary, every write it "
                "accepts descends from every write acknowledged before"
            )
    return len(writes)


# -- linearizability -------------------------------------------------------------------------------


def versioned_kv_read(
    *, reads: Callable[[Op], bool] | None = None, ops: ReplicaOps = DEFAULT_OPS
) -> Callable[[Op, Op | None], tuple[OpInput, Any] | None]:
    """A ``read=`` function for :func:`check_linearizable` with a :class:`KeyValueModel`: the
    history's writes as ``put(key, value)``, its reads as ``get(key)``.

    A write acknowledged took effect; one that timed out (or is pending) may have, at any
    moment after its request, or never (:data:`UNKNOWN`); any other answer (``not_primary``)
    took none: left out. A read answered with one sibling read its value, with none the
    model's initial value (None), with several a tuple of them, which no register ever holds;
    any other answer (``behind``) or none is left out. ``reads`` picks the reads that count
    (given the invoke: its ``dest`` and ``t``), default all: only a replica that has every
    acknowledged write answers like one copy, e.g. the primary, once it has caught up. Reads
    from other replicas may be stale without breaking any promise: leave them out.
    """

    def read(invoked: Op, completed: Op | None) -> tuple[OpInput, Any] | None:
        request = _request(invoked)
        key = freeze(request.get(ops.key))
        if invoked.f == ops.put:
            op = OpInput("put", invoked.process, key, freeze(request.get(ops.value)))
            if completed is None or completed.kind != "ok":
                return op, UNKNOWN
            return (op, None) if _answer(completed, ops.put_ok) is not None else None
        if invoked.f == ops.get:
            answer = _answer(completed, ops.get_ok)
            if answer is None or (reads is not None and not reads(invoked)):
                return None
            values = tuple(freeze(v) for v in _values(answer, ops))
            output = None if not values else values[0] if len(values) == 1 else values
            return OpInput("get", invoked.process, key), output
        return None

    return read
