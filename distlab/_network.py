"""The network layer: decides the fate of every message, with no I/O.

Every runtime (live in one process, live across processes, simulated) asks a ``Network`` what to
do with each message and then carries the decision out. Keeping the decision here — pure code and
a seeded RNG per link — is what lets the same faults behave the same way everywhere, and lets the
decisions be tested without a socket.

Each directed link has its own RNG derived from the run's seed and the link's ends, so a link's
decisions do not depend on how traffic on other links interleaves with it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._faults import (
    BlockLink,
    Cut,
    FaultState,
    Isolate,
    LinkFaults,
    make_groups,
)
from ._seeds import derived_rng


@dataclass(frozen=True)
class Decision:
    """What happens to one message.

    ``delays`` holds one delay per copy to deliver: the original first, then duplicates. A dropped
    message has no delays and a ``drop_reason`` in plain words.
    """

    delays: tuple[float, ...]
    drop_reason: str | None = None

    @property
    def dropped(self) -> bool:
        return self.drop_reason is not None


@dataclass(frozen=True)
class FaultChange:
    """A change to the faults in force: what changed, in words, and the new state."""

    description: str
    state: FaultState


FaultListener = Callable[[FaultChange], None]


def sample_delay(faults: LinkFaults, rng: random.Random) -> float:
    """One delay from the link's distribution, never below zero."""
    if faults.jitter == 0:
        return faults.delay
    if faults.distribution == "uniform":
        value = faults.delay + rng.uniform(-faults.jitter, faults.jitter)
    elif faults.distribution == "normal":
        value = rng.gauss(faults.delay, faults.jitter)
    else:  # exponential: a floor, then a tail whose mean is the jitter
        value = faults.delay - faults.jitter + rng.expovariate(1.0 / faults.jitter)
    return max(0.0, value)


def block_reason(cut: Cut) -> str:
    return f"partition ({cut.describe()})"


class Network:
    """Fault settings plus the per-link RNGs that turn them into decisions.

    >>> net = Network(seed=1)
    >>> net.decide("a", "b")
    Decision(delays=(0.0,), drop_reason=None)
    >>> _ = net.isolate("b")
    >>> net.decide("a", "b").drop_reason
    'partition (b isolated)'
    """

    def __init__(self, *, seed: int, state: FaultState | None = None) -> None:
        self._seed = seed
        self._state = state or FaultState()
        self._rngs: dict[tuple[str, str], random.Random] = {}
        self._listeners: list[FaultListener] = []

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def state(self) -> FaultState:
        return self._state

    def on_change(self, listener: FaultListener) -> None:
        """Call ``listener`` with a :class:`FaultChange` after every change."""
        self._listeners.append(listener)

    # -- decisions -------------------------------------------------------------------------

    def blocked(self, src: str, dest: str) -> str | None:
        """Why ``src`` cannot reach ``dest`` right now, or None if it can."""
        cut = self._state.cut_blocking(src, dest)
        return None if cut is None else block_reason(cut)

    def decide(self, src: str, dest: str) -> Decision:
        """Decide one message's fate: dropped (and why), or its delays (one per copy)."""
        reason = self.blocked(src, dest)
        if reason is not None:
            return Decision((), reason)
        faults = self._state.faults_for(src, dest)
        rng = self._rngs.get((src, dest))
        if rng is None:
            rng = self._rngs[(src, dest)] = derived_rng(self._seed, "link", src, dest)
        if faults.drop and rng.random() < faults.drop:
            return Decision((), f"random drop (p={faults.drop:g})")
        delays = [self._one_delay(faults, rng)]
        if faults.duplicate and rng.random() < faults.duplicate:
            delays.append(self._one_delay(faults, rng))
        return Decision(tuple(delays))

    @staticmethod
    def _one_delay(faults: LinkFaults, rng: random.Random) -> float:
        delay = sample_delay(faults, rng)
        if faults.reorder and rng.random() < faults.reorder:
            delay += faults.reorder_delay
        return delay

    # -- changes -----------------------------------------------------------------------------

    def _change(self, state: FaultState, description: str) -> FaultState:
        self._state = state
        change = FaultChange(description, state)
        for listener in self._listeners:
            listener(change)
        return state

    def set_faults(self, **settings: Any) -> FaultState:
        """Change the default faults of every link, e.g. ``set_faults(drop=0.1, delay=0.02)``."""
        default = self._state.default.changed(**settings)
        words = ", ".join(f"{k}={v}" for k, v in settings.items())
        return self._change(
            FaultState(default, self._state.overrides, self._state.cuts), f"set {words}"
        )

    def set_link(self, src: str, dest: str, **settings: Any) -> FaultState:
        """Override the faults of one direction of one link (others keep the defaults)."""
        current = self._state.faults_for(src, dest)
        others = tuple(o for o in self._state.overrides if o[0] != (src, dest))
        words = ", ".join(f"{k}={v}" for k, v in settings.items())
        return self._change(
            FaultState(
                self._state.default,
                (*others, ((src, dest), current.changed(**settings))),
                self._state.cuts,
            ),
            f"set {src}->{dest} {words}",
        )

    def reset_link(self, src: str, dest: str) -> FaultState:
        """Drop a link's override: it follows the defaults again."""
        others = tuple(o for o in self._state.overrides if o[0] != (src, dest))
        return self._change(
            FaultState(self._state.default, others, self._state.cuts),
            f"reset {src}->{dest} to the defaults",
        )

    def _add_cut(self, cut: Cut) -> FaultState:
        return self._change(
            FaultState(self._state.default, self._state.overrides, (*self._state.cuts, cut)),
            f"partition: {cut.describe()}",
        )

    def partition(
        self, groups: Mapping[str, Iterable[str]] | Iterable[Iterable[str]]
    ) -> FaultState:
        """Split nodes into groups that cannot reach each other.

        ``partition({"majority": ["n1", "n2", "n3"], "minority": ["n4", "n5"]})``, or lists
        (named g1, g2, ...). Nodes in no group form one more group of their own.
        """
        return self._add_cut(make_groups(groups))

    def isolate(self, node: str) -> FaultState:
        """Cut every link to and from ``node``."""
        return self._add_cut(Isolate(node))

    def block(self, src: str, dest: str) -> FaultState:
        """Cut one direction of one link: ``src`` can no longer reach ``dest``."""
        return self._add_cut(BlockLink(src, dest))

    def heal(self) -> FaultState:
        """Remove every partition cut (delay, drop... settings stay)."""
        return self._change(
            FaultState(self._state.default, self._state.overrides, ()), "heal all partitions"
        )

    def replace_state(self, state: FaultState, description: str) -> FaultState:
        """Install a whole fault state at once (used to mirror the supervisor's settings)."""
        return self._change(state, description)
