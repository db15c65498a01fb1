"""Catching node code that reads the wall clock or draws unseeded random numbers.

Used by ``distlab run --sim --check-determinism``. While a probe is installed, the module-level
functions of ``time`` and ``random`` that make runs irreproducible are wrapped: each call from
code outside distlab, trio and the standard library is recorded with the node that made it and
the line it came from. (A name bound before the probe, like ``from random import random``, is
not wrapped; comparing two runs' traces still catches its effects.)
"""

from __future__ import annotations

import random
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._node import Node

_TIME_FUNCTIONS = (
    *("time", "time_ns"),
    *("monotonic", "monotonic_ns"),
    *("perf_counter", "perf_counter_ns"),
)
_RANDOM_FUNCTIONS = (
    "random",
    "randint",
    "randrange",
    "choice",
    "choices",
    "shuffle",
    "sample",
    "uniform",
    "gauss",
    "normalvariate",
    "expovariate",
    "getrandbits",
    "randbytes",
)
_TRUSTED = tuple(
    str(p)
    for p in (
        Path(__file__).resolve().parent,
        Path(sysconfig.get_paths()["stdlib"]).resolve(),
        Path(sysconfig.get_paths()["purelib"]).resolve() / "trio",
    )
)


@dataclass(frozen=True)
class NondeterministicCall:
    node: str | None
    function: str
    where: str

    def describe(self) -> str:
        who = f"node {self.node}" if self.node else "code outside any node"
        advice = (
            "use self.now() / self.sleep()"
            if self.function.startswith("time.")
            else "use self.random"
        )
        return f"{who} called {self.function}() at {self.where}: {advice}"


def _caller() -> tuple[str | None, str] | None:
    """(node id, file:line) of the first untrusted frame above the probe, or None if trusted."""
    frame = sys._getframe(2)
    filename = str(Path(frame.f_code.co_filename).resolve())
    if filename.startswith(_TRUSTED):
        return None
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    node = None
    probe: Any = frame
    while probe is not None:
        candidate = probe.f_locals.get("self")
        if isinstance(candidate, Node):
            node = candidate.id
            break
        probe = probe.f_back
    return node, where


@contextmanager
def nondeterminism_probe() -> Iterator[list[NondeterministicCall]]:
    """Record calls to wall-clock and unseeded-random functions made inside the block."""
    calls: list[NondeterministicCall] = []
    saved: list[tuple[Any, str, Callable[..., Any]]] = []

    def wrap(module: Any, name: str) -> None:
        original = getattr(module, name)

        def probe(*args: Any, **kwargs: Any) -> Any:
            found = _caller()
            if found is not None:
                call = NondeterministicCall(found[0], f"{module.__name__}.{name}", found[1])
                if call not in calls:
                    calls.append(call)
            return original(*args, **kwargs)

        saved.append((module, name, original))
        setattr(module, name, probe)

    for name in _TIME_FUNCTIONS:
        wrap(time, name)
    for name in _RANDOM_FUNCTIONS:
        if hasattr(random, name):
            wrap(random, name)
    try:
        yield calls
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
