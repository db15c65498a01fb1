"""Jepsen's etcd register histories, as Porcupine's test data ships them, read as our histories.

Porcupine (a linearizability checker in Go) tests itself on 102 histories that Jepsen recorded
against etcd (from Horn and Kroening's experiments): one register, five client processes doing
``read``, ``write v`` and ``cas [from to]``, in files ``etcd_NNN.log`` of its test data. This
module reads such a file into a :class:`~distlab.grading.History` for ``RegisterModel`` and
holds, as facts, the verdict Porcupine's tests expect for each file. No file is kept here: the
directory they are in is given on the command line (``python -m bench.linearizability
--porcupine-etcd DIR``).

A line is ``INFO jepsen.util - PROCESS\\t:TYPE\\t:F\\tVALUE`` (tabs or spaces), TYPE one of:

- ``invoke``: the request (``read nil``, ``write 3``, ``cas [3 0]``);
- ``ok``: its answer (a read's value, ``nil`` for a key never written: our register's initial
  ``None``; a write or a cas repeats its argument: the cas swapped);
- ``fail``: a ``cas`` refused because the register did not hold ``from``, or a ``read`` that
  timed out (``:timed-out``);
- ``info``: a ``write`` or ``cas`` that timed out: it may or may not have taken effect (Jepsen
  then gives the client a new process number).

How an answer becomes ours is where checkers differ, and these are Porcupine's rules, so that
its verdicts apply: a ``fail``-ed cas is a cas *answered false*, which says the register did
not hold ``from`` at that moment (``ok`` with ``{"value": False}`` for ``RegisterModel``), not
a request that took no effect; a timed-out read or an ``info`` is our ``timeout``; a request
never answered before the file ends stays pending. With ``fail_cas="no effect"`` a refused cas
is read as Knossos (Jepsen's checker) reads a ``fail``: left out, it took no effect; that claims
less, so it can only turn "not linearizable" into "linearizable", never the reverse.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, TypeAlias

from distlab.grading import History, Op

FailCas: TypeAlias = Literal["false", "no effect"]

#: the etcd files that Porcupine's tests expect to be linearizable (every other one of 0-102 is
#: expected not to be; file 95 is empty: etcd did not start in that Jepsen run)
LINEARIZABLE = frozenset(
    {2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102}
)
FILES = range(0, 103)
EMPTY = frozenset({95})

_LINE = re.compile(
    r"^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(\S.*?)\s*$"
)
_PAIR = re.compile(r"^\[(-?\d+|nil)\s+(-?\d+|nil)\]$")


def expected(number: int) -> bool | None:
    """Whether Porcupine's tests expect ``etcd_{number:03d}.log`` to be linearizable (None: a
    file they do not check)."""
    if number not in FILES or number in EMPTY:
        return None
    return number in LINEARIZABLE


def _value(text: str, where: str) -> Any:
    """``nil`` -> None, ``3`` -> 3, ``[3 0]`` -> [3, 0], ``:timed-out`` -> the string."""
    if text == "nil":
        return None
    if text.startswith(":"):
        return text
    pair = _PAIR.match(text)
    if pair is not None:
        return [_value(pair[1], where), _value(pair[2], where)]
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{where}: cannot read the value {text!r}") from None


def read_etcd_log(path: Path, *, fail_cas: FailCas = "false") -> History:
    """The history in a Jepsen etcd log, one register (see the module's docstring).

    Each line's number is its time: the file is in the order Jepsen saw the events. Raises
    ValueError on a line it cannot read, an answer without a request, or a second request from a
    process still waiting for its first.
    """
    ops: list[Op] = []
    waiting: dict[str, tuple[int, str]] = {}  # process -> (op_id, f) of its request in flight
    next_id = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{where}: not a Jepsen operation: {line!r}")
        process, kind, f, text = f"process-{match[1]}", match[2], match[3], match[4]
        value = _value(text, where)
        t = float(number)
        if kind == "invoke":
            if process in waiting:
                raise ValueError(f"{where}: {process} asks again before its answer")
            next_id += 1
            waiting[process] = (next_id, f)
            asked = {} if f == "read" else {"value": value}
            ops.append(Op(next_id, process, "invoke", f, asked, t))
            continue
        if process not in waiting:
            raise ValueError(f"{where}: an answer to {process}, which asked nothing")
        op_id, asked_f = waiting.pop(process)
        if asked_f != f:
            raise ValueError(f"{where}: {process} asked {asked_f}, the answer is to {f}")
        if kind == "ok":
            answer = {"value": value} if f == "read" else {"value": True} if f == "cas" else {}
            ops.append(Op(op_id, process, "ok", f, answer, t))
        elif kind == "fail" and f == "cas" and value != ":timed-out":
            if fail_cas == "false":
                ops.append(Op(op_id, process, "ok", f, {"value": False}, t))
            else:
                ops.append(Op(op_id, process, "fail", f, None, t))
        elif kind == "info" or value == ":timed-out":
            ops.append(Op(op_id, process, "timeout", f, None, t))
        else:  # a fail of a read or write that did not time out: it took no effect
            ops.append(Op(op_id, process, "fail", f, None, t))
    return History(ops, next_id)


def etcd_logs(directory: Path) -> list[tuple[int, Path]]:
    """The ``etcd_NNN.log`` files in ``directory``, by number; empty files left out."""
    found = []
    for path in sorted(directory.glob("etcd_*.log")):
        digits = path.stem.removeprefix("etcd_")
        if digits.isdigit() and path.stat().st_size > 0:
            found.append((int(digits), path))
    return found
