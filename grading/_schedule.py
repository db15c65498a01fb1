"""Fault schedules: break a running cluster on a plan, reproducibly, and heal it at the end.

A graded test states *what* to break and *when*; which node gets hit is decided when the action
fires, against the cluster as it is then (the current leader, a random worker that is up), with
the schedule's own seeded RNG. In the simulator the same seed therefore gives the same faults at
the same virtual times::

    schedule = FaultSchedule(cluster, seed=7)
    leader = node_where(lambda s: s.get("role") == "leader", description="the current leader")
    schedule.at(1.0, crash(leader))
    schedule.at(3.0, restart(random_node("server", state="crashed")))
    schedule.every(2.0, pause(random_node("worker"), seconds=0.5), jitter=0.5, until=20)
    schedule.cycle([partition(majority_minority()), heal()], period=4.0, start=1.0)
    async with schedule.running():
        await run_the_workload(cluster)
    await schedule.final_heal()  # every node up, no cuts, no drops: now check the results
    problems = check(cluster.trace)
    assert not problems, "\\n".join([*problems, *schedule.describe_log()])

Everything that happened (or was skipped because no node fitted) is in ``schedule.log`` as
``(t, description)`` pairs, in plain words, for failure messages.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, Self

import trio

from distlab._cluster import Cluster
from distlab._errors import ConfigError
from distlab._faults import BlockLink, FaultState, LinkFaults, make_groups
from distlab._seeds import derived_rng

# -- targets: which node an action hits, chosen when it fires -------------------------------------


class Target(Protocol):
    """Picks the node an action hits, against the cluster at the moment the action fires."""

    @property
    def description(self) -> str: ...

    def pick(self, cluster: Cluster, rng: random.Random) -> str | None:
        """A node's name, or None when no node fits (the action is then skipped)."""
        ...


def _choose(rng: random.Random, candidates: Sequence[str]) -> str | None:
    """None, the only candidate, or one drawn with ``rng`` (which is left alone if no choice)."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    return rng.choice(candidates)


@dataclass(frozen=True)
class _Named:
    name: str

    @property
    def description(self) -> str:
        return self.name

    def pick(self, cluster: Cluster, rng: random.Random) -> str | None:
        return self.name if self.name in cluster.roster else None


@dataclass(frozen=True)
class _RandomNode:
    role: str | None
    state: str | None

    @property
    def description(self) -> str:
        if self.state is None:
            return f"a random {self.role or 'node'} (in any state)"
        state = "" if self.state == "up" else f"{self.state} "
        return f"a random {state}{self.role or 'node'}"

    def pick(self, cluster: Cluster, rng: random.Random) -> str | None:
        names = cluster.names if self.role is None else cluster.roster.with_role(self.role)
        return _choose(rng, [n for n in names if self.state in (None, cluster.state(n))])


@dataclass(frozen=True)
class _NodeWhere:
    predicate: Callable[[dict[str, Any]], bool]
    description: str
    state: str | None

    def pick(self, cluster: Cluster, rng: random.Random) -> str | None:
        return _choose(
            rng,
            [
                n
                for n in cluster.names
                if self.state in (None, cluster.state(n)) and self.predicate(cluster.status_of(n))
            ],
        )


def node(name: str) -> Target:
    """The node called ``name`` (whatever its state; none if the cluster has no such node).

    >>> node("server").description
    'server'
    """
    return _Named(name)


def random_node(role: str | None = None, *, state: str | None = "up") -> Target:
    """A node of ``role`` (any if None) in ``state`` (any if None), drawn with the schedule's RNG.

    >>> random_node("worker").description
    'a random worker'
    >>> random_node(state="crashed").description
    'a random crashed node'
    """
    return _RandomNode(role, state)


def node_where(
    predicate: Callable[[dict[str, Any]], bool], *, description: str, state: str | None = "up"
) -> Target:
    """A node in ``state`` whose published status satisfies ``predicate``.

    A crashed node keeps its last status until it restarts, hence ``state="up"`` by default.
    If several nodes fit (two nodes that both think they lead), one is drawn with the RNG.

    >>> leader = node_where(lambda s: s.get("role") == "leader", description="the current leader")
    >>> leader.description
    'the current leader'
    """
    return _NodeWhere(predicate, description, state)


def _as_target(target: Target | str) -> Target:
    return node(target) if isinstance(target, str) else target


def _who(name: str, target: Target) -> str:
    return name if target.description == name else f"{name} ({target.description})"


# -- partition shapes: which links a partition cuts, from the nodes there when it fires ----------


class Shape(Protocol):
    """How to split the cluster; ``cut`` applies it and says what it did in plain words."""

    @property
    def description(self) -> str: ...

    def cut(self, cluster: Cluster, rng: random.Random) -> str: ...


def _shuffled(cluster: Cluster, rng: random.Random, role: str | None = None) -> list[str]:
    names = sorted(cluster.names if role is None else cluster.roster.with_role(role))
    rng.shuffle(names)
    return names


def _split(cluster: Cluster, sides: dict[str, list[str]], *, role: str | None, words: str) -> None:
    """Cut the sides apart. With ``role``, only the links between the sides are cut (by one-way
    blocks, both ways): nodes of other roles (clients) still reach every side. Without, a
    partition into named groups."""
    if role is None:
        cluster.network.partition(sides)
        return
    first, second = sides.values()
    _block_between(cluster, first, second, words=words)


def _block_between(cluster: Cluster, first: list[str], second: list[str], *, words: str) -> None:
    """Cut every link between ``first`` and ``second``, both ways, and nothing else.

    One state change, so the trace shows one fault event for the whole shape.
    """
    blocks = [BlockLink(a, b) for a in first for b in second]
    blocks += [BlockLink(b, a) for a in first for b in second]
    state = cluster.network.state
    cluster.network.replace_state(
        FaultState(state.default, state.overrides, (*state.cuts, *blocks)), f"partition: {words}"
    )


def _among(role: str | None) -> str:
    return "" if role is None else f" of the {role} nodes"


def _words(nodes: Sequence[str]) -> str:
    return ", ".join(sorted(nodes))


def _too_few(shape: Shape, needed: int, have: int) -> str:
    return f"skipped partition ({shape.description}): it needs {needed} nodes, there are {have}"


@dataclass(frozen=True)
class _Halves:
    role: str | None = None

    @property
    def description(self) -> str:
        return f"halves{_among(self.role)}"

    def cut(self, cluster: Cluster, rng: random.Random) -> str:
        names = _shuffled(cluster, rng, self.role)
        if len(names) < 2:
            return _too_few(self, 2, len(names))
        first, second = sorted(names[: len(names) // 2]), sorted(names[len(names) // 2 :])
        words = f"split into halves{_among(self.role)}: {_words(first)} | {_words(second)}"
        _split(cluster, {"half-1": first, "half-2": second}, role=self.role, words=words)
        return words


@dataclass(frozen=True)
class _MajorityMinority:
    role: str | None = None

    @property
    def description(self) -> str:
        return f"majority/minority{_among(self.role)}"

    def cut(self, cluster: Cluster, rng: random.Random) -> str:
        names = _shuffled(cluster, rng, self.role)
        if len(names) < 3:
            return _too_few(self, 3, len(names))
        size = len(names) // 2 + 1
        majority, minority = sorted(names[:size]), sorted(names[size:])
        words = (
            f"split{_among(self.role)} into majority {_words(majority)} | minority "
            f"{_words(minority)}"
        )
        _split(cluster, {"majority": majority, "minority": minority}, role=self.role, words=words)
        return words


@dataclass(frozen=True)
class _Bridge:
    description: str = "bridge"

    def cut(self, cluster: Cluster, rng: random.Random) -> str:
        names = _shuffled(cluster, rng)
        if len(names) < 3:
            return _too_few(self, 3, len(names))
        bridge, rest = names[0], names[1:]
        left, right = sorted(rest[: len(rest) // 2]), sorted(rest[len(rest) // 2 :])
        words = f"split {_words(left)} | {_words(right)}, with {bridge} as a bridge to both"
        _block_between(cluster, left, right, words=words)  # the bridge is on neither side
        return words


@dataclass(frozen=True)
class _Isolated:
    target: Target

    @property
    def description(self) -> str:
        return f"isolate {self.target.description}"

    def cut(self, cluster: Cluster, rng: random.Random) -> str:
        name = self.target.pick(cluster, rng)
        if name is None:
            return f"skipped partition ({self.description}): no node matched"
        cluster.network.isolate(name)
        return f"isolated {_who(name, self.target)}"


@dataclass(frozen=True)
class _Groups:
    groups: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def description(self) -> str:
        return " | ".join(f"{name}: {_words(members)}" for name, members in self.groups)

    def cut(self, cluster: Cluster, rng: random.Random) -> str:
        cluster.network.partition({name: list(members) for name, members in self.groups})
        return f"partitioned {self.description}"


def halves(*, role: str | None = None) -> Shape:
    """Two groups as equal as possible (the odd node out goes to the second), drawn at random.

    With ``role``, only the nodes of that role are split, and only the links between the two
    sides are cut: the other nodes (clients, say) still reach both sides.
    """
    return _Halves(role)


def majority_minority(*, role: str | None = None) -> Shape:
    """A strict majority (3 of 5, 3 of 4) and the rest, drawn at random; needs 3 nodes.

    ``majority_minority(role="replica")``: a majority of the replicas, whatever other nodes
    the cluster has; those others still reach both sides.
    """
    return _MajorityMinority(role)


def bridge() -> Shape:
    """Two halves that cannot reach each other, and one node that reaches both; needs 3 nodes.

    Cut with one-way link blocks between the halves (a groups cut would cut the bridge too).
    """
    return _Bridge()


def isolated(target: Target | str) -> Shape:
    """The target node alone: no message to or from it gets through."""
    return _Isolated(_as_target(target))


def groups(named: Mapping[str, Sequence[str]]) -> Shape:
    """Explicit groups, e.g. ``groups({"left": ["n1", "n2"], "right": ["n3"]})``.

    Checked when built: a node in two groups or fewer than two groups is a ``ConfigError``.

    >>> groups({"left": ["n2", "n1"], "right": ["n3"]}).description
    'left: n1, n2 | right: n3'
    """
    return _Groups(make_groups(named).groups)


# -- actions ---------------------------------------------------------------------------------------


class Action(Protocol):
    """Something a schedule does to the cluster; ``apply`` says what it did, in plain words."""

    async def apply(self, cluster: Cluster, rng: random.Random) -> str: ...


#: The schedule firing the current action: where ``pause(seconds=...)`` starts its resume.
_firing: ContextVar[FaultSchedule] = ContextVar("firing")


@dataclass(frozen=True)
class _Crash:
    target: Target

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        name = self.target.pick(cluster, rng)
        if name is None:
            return f"skipped crash ({self.target.description}): no node matched"
        if cluster.state(name) in ("crashed", "stopped"):
            return f"skipped crash of {_who(name, self.target)}: it is {cluster.state(name)}"
        await cluster.crash(name)
        return f"crashed {_who(name, self.target)}"


@dataclass(frozen=True)
class _Restart:
    target: Target

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        name = self.target.pick(cluster, rng)
        if name is None:
            return f"skipped restart ({self.target.description}): no node matched"
        was = cluster.state(name)
        await cluster.restart(name)
        note = "" if was == "crashed" else f", crashing it first: it was {was}"
        return f"restarted {_who(name, self.target)}{note}"


@dataclass(frozen=True)
class _Pause:
    target: Target
    seconds: float | None

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        schedule = _firing.get(None)
        if self.seconds is not None and (schedule is None or schedule._background is None):
            raise RuntimeError(
                "pause(..., seconds=...) resumes the node from a FaultSchedule's background: "
                "fire it from a schedule, or pause and resume yourself"
            )
        name = self.target.pick(cluster, rng)
        if name is None:
            return f"skipped pause ({self.target.description}): no node matched"
        try:
            await cluster.pause(name)
        except ConfigError as exc:  # not up (any more): the cluster says why
            return f"skipped pause: {exc}"
        if self.seconds is None:
            return f"paused {_who(name, self.target)}"
        assert schedule is not None
        due = cluster.now() + self.seconds
        schedule._start_background(partial(self._resume_later, cluster, name, due))
        return f"paused {_who(name, self.target)} for {self.seconds:g} s"

    async def _resume_later(self, cluster: Cluster, name: str, due: float) -> str:
        await trio.sleep(max(0.0, due - cluster.now()))
        try:
            with trio.CancelScope(shield=True):
                await cluster.resume(name)
        except ConfigError as exc:  # crashed or resumed meanwhile
            return f"skipped the end of {name}'s {self.seconds:g} s pause: {exc}"
        return f"resumed {name} after its {self.seconds:g} s pause"


@dataclass(frozen=True)
class _Resume:
    target: Target

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        name = self.target.pick(cluster, rng)
        if name is None:
            return f"skipped resume ({self.target.description}): no node matched"
        try:
            await cluster.resume(name)
        except ConfigError as exc:  # not paused: the cluster says why
            return f"skipped resume: {exc}"
        return f"resumed {_who(name, self.target)}"


@dataclass(frozen=True)
class _Partition:
    shape: Shape

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        return self.shape.cut(cluster, rng)


@dataclass(frozen=True)
class _Heal:
    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        cluster.network.heal()
        return "healed all partitions"


@dataclass(frozen=True)
class _SetFaults:
    settings: tuple[tuple[str, Any], ...]

    async def apply(self, cluster: Cluster, rng: random.Random) -> str:
        cluster.network.set_faults(**dict(self.settings))
        return "set " + ", ".join(f"{k}={v}" for k, v in self.settings)


def crash(target: Target | str) -> Action:
    """Crash the target (skipped, with a note in the log, if it is already down)."""
    return _Crash(_as_target(target))


def restart(target: Target | str) -> Action:
    """Restart the target; pick among crashed nodes with ``random_node(..., state="crashed")``.

    A target that is still running is crashed first (as ``Cluster.restart`` does).
    """
    return _Restart(_as_target(target))


def pause(target: Target | str, *, seconds: float | None = None) -> Action:
    """Pause the target; with ``seconds``, resume it that much later without holding the plan up.

    The resume runs in the schedule's background, so it is cancelled with the rest of the plan
    when ``running()`` ends (``final_heal`` resumes whatever is still paused).
    """
    if seconds is not None and not seconds >= 0:
        raise ValueError(f"seconds must be >= 0, got {seconds!r}")
    return _Pause(_as_target(target), seconds)


def resume(target: Target | str) -> Action:
    """Resume the target; pick among paused nodes with ``random_node(..., state="paused")``."""
    return _Resume(_as_target(target))


def partition(shape: Shape) -> Action:
    """Add the cut ``shape`` describes (on top of any cuts already in force)."""
    return _Partition(shape)


def heal() -> Action:
    """Remove every partition cut (drop, delay... settings stay)."""
    return _Heal()


def set_faults(**settings: Any) -> Action:
    """Change the default faults of every link, e.g. ``set_faults(drop=0.2, delay=0.01)``.

    Checked when built: an unknown setting or a bad value is a ``ConfigError``.
    """
    LinkFaults().changed(**settings)
    return _SetFaults(tuple(settings.items()))


# -- the schedule ----------------------------------------------------------------------------------

#: A plan yields (time since the cluster started, action) pairs in time order.
_Plan = Iterator[tuple[float, Action]]


def _check_times(period: float, start: float, until: float | None) -> None:
    if not period > 0:
        raise ValueError(f"period must be > 0 seconds, got {period!r}")
    if not start >= 0:
        raise ValueError(f"start must be >= 0 seconds, got {start!r}")
    if until is not None and not until >= start:
        raise ValueError(f"until must be >= start ({start}), got {until!r}")


class FaultSchedule:
    """A plan of faults against ``cluster``, its seeded RNG, and a log of what it did.

    Times are seconds since the cluster started (``cluster.now()``: virtual in the simulator).
    All plan entries fire one after another from one background task, in time order (ties in
    the order they were added), so the RNG is drawn in the same order on every run of a seed.
    An entry whose time has passed when the schedule gets to it fires at once, and the log
    shows when it really fired.
    """

    def __init__(self, cluster: Cluster, *, seed: int) -> None:
        self.cluster = cluster
        self.seed = seed
        self.rng = derived_rng(seed, "schedule")
        self.log: list[tuple[float, str]] = []
        self._plans: list[_Plan] = []
        self._started = False
        self._background: trio.Nursery | None = None
        self._cancel: trio.CancelScope | None = None
        self._stopped = trio.Event()

    # -- building the plan -------------------------------------------------------------------

    def at(self, t: float, action: Action) -> Self:
        """Fire ``action`` once, ``t`` seconds after the cluster started."""
        if not t >= 0:
            raise ValueError(f"t must be >= 0 seconds, got {t!r}")
        return self._add(iter([(t, action)]))

    def every(
        self,
        period: float,
        action: Action,
        *,
        start: float = 0.0,
        jitter: float = 0.0,
        until: float | None = None,
    ) -> Self:
        """Fire ``action`` at ``start + period``, ``start + 2 period``, ... up to ``until``.

        Each time is shifted by a uniform draw in ``[-jitter, +jitter]`` from the schedule's RNG
        (``jitter`` at most ``period / 2``, so the times stay in order); a shifted time past
        ``until`` ends the series.
        """
        _check_times(period, start, until)
        if not 0 <= jitter <= period / 2:
            raise ValueError(f"jitter must be between 0 and period / 2, got {jitter!r}")

        def plan() -> _Plan:
            k = 1
            while True:
                t = start + k * period
                if jitter:
                    t += self.rng.uniform(-jitter, jitter)
                if until is not None and t > until:
                    return
                yield t, action
                k += 1

        return self._add(plan())

    def cycle(
        self,
        actions: Sequence[Action],
        *,
        period: float,
        start: float = 0.0,
        until: float | None = None,
    ) -> Self:
        """Fire ``actions`` in turn, one every ``period`` from ``start + period`` up to ``until``.

        ``cycle([partition(halves()), heal()], period=2.0)`` cuts at 2 s, heals at 4 s, cuts a
        fresh split at 6 s, ...
        """
        _check_times(period, start, until)
        if not actions:
            raise ValueError("cycle needs at least one action")
        actions = list(actions)

        def plan() -> _Plan:
            k = 1
            while until is None or start + k * period <= until:
                yield start + k * period, actions[(k - 1) % len(actions)]
                k += 1

        return self._add(plan())

    def _add(self, plan: _Plan) -> Self:
        if self._started:
            raise RuntimeError("the schedule is already running: build the whole plan first")
        self._plans.append(plan)
        return self

    # -- running it --------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Run the plan in the background while the body runs; leaving the body cancels the rest.

        An action in progress when the body ends is finished first (it is shielded: keep custom
        actions brief); pauses still waiting for their resume stay paused until ``final_heal``.
        """
        if self._started:
            raise RuntimeError("a FaultSchedule runs once: make a new one")
        self._started = True
        async with trio.open_nursery() as nursery:
            await nursery.start(self._run_background)
            try:
                yield self
            finally:
                self._stop()

    async def _run_background(self, task_status: trio.TaskStatus[None]) -> None:
        try:
            with trio.CancelScope() as self._cancel:
                async with trio.open_nursery() as background:
                    self._background = background
                    background.start_soon(self._run_plans)
                    # Open until the body ends, even once the plan is done (or empty): an action
                    # fired by hand, pause(seconds=...) say, resumes from here.
                    background.start_soon(trio.sleep_forever)
                    task_status.started()
        finally:
            self._background = None
            self._stopped.set()

    def _stop(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    async def _run_plans(self) -> None:
        queue: list[tuple[float, int, _Plan, Action]] = []

        def push(index: int, plan: _Plan) -> None:
            entry = next(plan, None)
            if entry is not None:
                heapq.heappush(queue, (entry[0], index, plan, entry[1]))

        for index, plan in enumerate(self._plans):
            push(index, plan)
        while queue:
            due, index, plan, action = heapq.heappop(queue)
            await trio.sleep(max(0.0, due - self.cluster.now()))
            await self.fire(action)
            push(index, plan)

    def _start_background(self, fn: Callable[[], Awaitable[str]]) -> None:
        """Run ``fn()`` beside the plan (cancelled with it) and log the description it returns."""
        if self._background is None:
            raise RuntimeError("the schedule is not running")

        async def run() -> None:
            description = await fn()
            self._record(description)

        self._background.start_soon(run)

    async def fire(self, action: Action) -> str:
        """Apply ``action`` now, with this schedule's RNG, and log it (also usable by hand)."""
        token = _firing.set(self)
        try:
            # Shielded: stopping the schedule never leaves a crash or restart half done.
            with trio.CancelScope(shield=True):
                description = await action.apply(self.cluster, self.rng)
        finally:
            _firing.reset(token)
        self._record(description)
        return description

    def _record(self, description: str) -> None:
        self.log.append((round(self.cluster.now(), 6), description))

    # -- ending it ---------------------------------------------------------------------------

    async def final_heal(self) -> None:
        """Stop the plan, then leave a healthy cluster for the test's end checks.

        Removes every cut, link override and default fault (drop, duplicate, delay... back to
        none, in one ``fault`` event), resumes every paused node and restarts every crashed one.
        Each step is logged; nothing to do is logged too.
        """
        self._stop()
        if self._started:
            await self._stopped.wait()  # an action in progress finishes first
        cluster = self.cluster
        logged = len(self.log)
        state = cluster.network.state
        if state != FaultState():
            cluster.network.replace_state(FaultState(), "final heal: no partitions, no faults")
            self._record(f"final heal: healed the network (was: {state.describe()})")
        for name in cluster.names:
            if cluster.state(name) == "paused":
                await cluster.resume(name)
                self._record(f"final heal: resumed {name}")
        for name in cluster.names:
            if cluster.state(name) == "crashed":
                await cluster.restart(name)
                self._record(f"final heal: restarted {name}")
        if len(self.log) == logged:
            self._record("final heal: nothing to heal")

    def describe_log(self) -> list[str]:
        """The log as lines for a failure message: ``"t=1.500 crashed n2 (a random worker)"``."""
        return [f"t={t:.3f} {words}" for t, words in self.log]
