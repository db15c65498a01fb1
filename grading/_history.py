"""Histories: what clients asked for and what they got back, as checkers read it.

A client records one ``invoke`` when it sends a request, then exactly one completion: ``ok``
(a reply), ``fail`` (an error reply: the request certainly did not take effect) or ``timeout``
(no reply in time: it may or may not have taken effect — the hard case in distributed systems).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

OpKind: TypeAlias = Literal["invoke", "ok", "fail", "timeout"]


@dataclass(frozen=True)
class Op:
    """One history entry. ``op_id`` ties an invoke to its completion."""

    op_id: int
    process: str  # the client that made the request
    kind: OpKind
    f: str  # the operation, e.g. "sum", "lock", "ping"
    value: Any  # the request's argument for an invoke; the result for ok/fail
    t: float  # seconds since the run started
    dest: str | None = None  # the node the request was sent to (None: not recorded)


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)
    _next_id: int = 0
    _invokes: dict[int, Op] = field(default_factory=dict, repr=False, compare=False)

    def invoke(self, process: str, f: str, value: Any, t: float, *, dest: str | None = None) -> int:
        self._next_id += 1
        invoked = Op(self._next_id, process, "invoke", f, value, t, dest)
        self.ops.append(invoked)
        self._invokes[self._next_id] = invoked
        return self._next_id

    def complete(self, op_id: int, kind: OpKind, value: Any, t: float) -> None:
        invoked = self.invocation(op_id)
        self.ops.append(Op(op_id, invoked.process, kind, invoked.f, value, t, invoked.dest))

    def invocation(self, op_id: int) -> Op:
        invoked = self._invokes.get(op_id)
        if invoked is None:  # ops appended by hand
            invoked = next((o for o in self.ops if o.op_id == op_id and o.kind == "invoke"), None)
        if invoked is None:
            raise KeyError(f"no invoke with op_id {op_id}")
        return invoked

    def completions(self) -> Iterator[tuple[Op, Op | None]]:
        """Each invoke with its completion (None while it is still pending)."""
        done = {op.op_id: op for op in self.ops if op.kind != "invoke"}
        for op in self.ops:
            if op.kind == "invoke":
                yield op, done.get(op.op_id)

    def __len__(self) -> int:
        return len(self.ops)
