"""Fault actions aimed at protocol bugs: crash points, slow links, zombies.

Why these, beside crashes and partitions (``_schedule.py``): the bugs students make hide in the
*order* of a protocol's steps and in *late* messages. A crash point crashes a node right after
it sends a given message, before its next step (a storage write, the next send), which is where
"record, then acknowledge" goes wrong. A link slower than the lab's timeouts delivers replies
after a resend, after a reassignment, after a replacement: the stale and duplicate messages a
protocol must ignore. A zombie is a node paused long enough to be given up on, that then wakes
and carries on as if nothing happened.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from distlab._cluster import Cluster
from distlab._errors import ConfigError
from distlab._faults import FaultState, LinkFaults

from ._schedule import Action, Target, _as_target, _Pause, _who

Way = Literal["both", "out", "in"]


@dataclass(frozen=True)
class _CrashAfter:
    target: Target
    msg_type: str
    nth: int

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        name = self.target.pick(cluster, rng)
        if name is None:
            return f"skipped crash point ({self.target.description}): no node matched"
        try:
            await cluster.crash_after_send(name, self.msg_type, nth=self.nth)
        except ConfigError as exc:  # not running (any more): the cluster says why
            return f"skipped crash point: {exc}"
        which = "next" if self.nth == 1 else f"{_ordinal(self.nth)} next"
        return (
            f"armed a crash point: {_who(name, self.target)} crashes right after its {which} "
            f"{self.msg_type!r} message"
        )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class _SlowLinks:
    source: Target | None  # None: every node
    dest: Target | None
    delay: float
    jitter: float

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        sources = self._pick(self.source, cluster, rng)
        dests = self._pick(self.dest, cluster, rng)
        if not sources or not dests:
            missing = self.source if not sources else self.dest
            assert missing is not None
            return f"skipped slow link ({missing.description}): no node matched"
        links = [(s, d) for s in sources for d in dests if s != d]
        state = cluster.network.state
        kept = tuple(o for o in state.overrides if o[0] not in links)
        slowed = tuple(
            ((s, d), state.faults_for(s, d).changed(delay=self.delay, jitter=self.jitter))
            for s, d in links
        )
        words = (
            f"slowed {_side(sources, self.source)} -> {_side(dests, self.dest)} to "
            f"{self.delay:g} s" + (f" (+/- {self.jitter:g} s)" if self.jitter else "")
        )
        cluster.network.replace_state(FaultState(state.default, kept + slowed, state.cuts), words)
        return words

    @staticmethod
    def _pick(target: Target | None, cluster: Cluster, rng: random.Random) -> list[str]:
        if target is None:
            return sorted(cluster.names)
        name = target.pick(cluster, rng)
        return [] if name is None else [name]


def _side(names: list[str], target: Target | None) -> str:
    if target is None:
        return "every node"
    return _who(names[0], target)


def crash_after(target: Target | str, msg_type: str, *, nth: int = 1) -> Action:
    """Arm a crash point: the target crashes right after its ``nth`` next ``msg_type`` send.

    The message is sent (it may arrive); whatever the node would have done next (write to
    storage, send the next message, answer) never happens. Armed for the node's current
    incarnation; a node that never sends such a message never crashes. The crash is in the trace
    (``crash`` event, reason "a crash point").

    >>> crash_after("master", "partial").__class__.__name__
    '_CrashAfter'
    """
    if nth < 1:
        raise ValueError(f"nth must be 1 or more, got {nth!r}")
    return _CrashAfter(_as_target(target), msg_type, nth)


def slow_link(
    source: Target | str, dest: Target | str, *, delay: float, jitter: float = 0.0
) -> Action:
    """One direction of one link takes ``delay`` seconds (``jitter`` either way); the other
    direction and every other setting (drop, duplicate) stay as they are.

    Choose a delay longer than the lab's timeouts to make replies arrive after the sender gave
    up: ``slow_link("worker-1", "master", delay=0.6)`` with a 0.25 s timeout.
    """
    LinkFaults().changed(delay=delay, jitter=jitter)  # checked now, not when it fires
    return _SlowLinks(_as_target(source), _as_target(dest), delay, jitter)


def slow_node(
    target: Target | str, *, delay: float, jitter: float = 0.0, way: Way = "both"
) -> Action:
    """Every link of the target node takes ``delay`` seconds: ``way="out"`` only what it sends,
    ``"in"`` only what it receives (an asymmetric link: it hears everyone, but late to answer).

    The node is chosen when the action fires; links to nodes added later keep the defaults.
    """
    LinkFaults().changed(delay=delay, jitter=jitter)
    if way not in ("both", "out", "in"):
        raise ValueError(f"way must be 'both', 'out' or 'in', got {way!r}")
    return _SlowNode(_as_target(target), delay, jitter, way)


@dataclass(frozen=True)
class _SlowNode:
    target: Target
    delay: float
    jitter: float
    way: Way

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        name = self.target.pick(cluster, rng)
        if name is None:
            return f"skipped slow node ({self.target.description}): no node matched"
        node = _Fixed(name, self.target.description)
        words = []
        if self.way in ("both", "out"):
            words.append(await _SlowLinks(node, None, self.delay, self.jitter).apply(cluster, rng))
        if self.way in ("both", "in"):
            words.append(await _SlowLinks(None, node, self.delay, self.jitter).apply(cluster, rng))
        return "; ".join(words)


@dataclass(frozen=True)
class _Fixed:
    name: str
    description: str

    def pick(self, cluster: Cluster, rng: random.Random) -> str | None:
        return self.name


def zombie(target: Target | str, *, seconds: float) -> Action:
    """Pause the target for ``seconds`` (longer than the others take to give up on it and
    replace it), then let it wake up and carry on where it stopped: its timers fire, its late
    answers go out. Pick ``seconds`` above the lab's failure-detection timeouts.

    The same as ``pause(target, seconds=seconds)``, named for what a test means by it.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    return _Pause(_as_target(target), seconds)
