"""Fault settings as plain data: what the network does to messages, and which links are cut.

Everything here is immutable and JSON-serialisable, so the same settings can be shown in the TUI,
written to the trace as a ``fault`` event, and shipped to node processes, without any of them
holding a reference to live state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, TypeAlias

from ._errors import ConfigError

Distribution: TypeAlias = Literal["uniform", "normal", "exponential"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("uniform", "normal", "exponential")


def _check_probability(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise ConfigError(f"{name} must be a probability between 0 and 1, got {value!r}")


def _check_seconds(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class LinkFaults:
    """What the network does to each message on a link.

    - ``delay``: mean one-way delay in seconds; ``jitter`` spreads it. With ``"uniform"`` a delay
      is drawn from ``delay ± jitter``; with ``"normal"`` from a normal law with standard deviation
      ``jitter``; with ``"exponential"`` from ``delay - jitter`` plus an exponential tail of mean
      ``jitter`` (a floor and a long tail, like real networks). A delay is never below zero.
    - ``drop``, ``duplicate``: probabilities that a message is lost, or delivered twice.
    - ``reorder``: probability that a message is held back ``reorder_delay`` seconds more, so that
      messages sent after it overtake it.
    """

    delay: float = 0.0
    jitter: float = 0.0
    distribution: Distribution = "uniform"
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.05

    def __post_init__(self) -> None:
        _check_seconds("delay", self.delay)
        _check_seconds("jitter", self.jitter)
        _check_seconds("reorder_delay", self.reorder_delay)
        for name in ("drop", "duplicate", "reorder"):
            _check_probability(name, getattr(self, name))
        if self.distribution not in DISTRIBUTIONS:
            raise ConfigError(
                f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {self.distribution!r}"
            )
        if self.distribution == "exponential" and self.jitter > self.delay:
            raise ConfigError(
                "with the exponential distribution, jitter (the tail's mean) must not exceed "
                f"delay (the mean): got delay={self.delay:g} s, jitter={self.jitter:g} s"
            )

    def changed(self, **settings: Any) -> LinkFaults:
        """A copy with some settings changed; unknown names are an error."""
        unknown = set(settings) - set(LinkFaults.__dataclass_fields__)
        if unknown:
            raise ConfigError(
                f"unknown fault setting(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(LinkFaults.__dataclass_fields__)}"
            )
        return replace(self, **settings)

    def describe(self) -> str:
        parts = []
        if self.delay or self.jitter:
            parts.append(
                f"delay {self.delay * 1000:g} ms ± {self.jitter * 1000:g} ms ({self.distribution})"
            )
        for name in ("drop", "duplicate", "reorder"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name} {value:g}")
        return ", ".join(parts) or "no faults"


# -- cuts: the ways a partition can block links --------------------------------------------------


@dataclass(frozen=True)
class Groups:
    """Named groups that cannot reach each other; nodes in no group form one more group."""

    groups: tuple[tuple[str, tuple[str, ...]], ...]

    def group_of(self, node: str) -> str | None:
        for name, members in self.groups:
            if node in members:
                return name
        return None

    def blocks(self, src: str, dest: str) -> bool:
        return self.group_of(src) != self.group_of(dest)

    def describe(self) -> str:
        return " | ".join(f"{name}: {', '.join(members)}" for name, members in self.groups)


@dataclass(frozen=True)
class Isolate:
    """One node can neither send nor receive."""

    node: str

    def blocks(self, src: str, dest: str) -> bool:
        return self.node in (src, dest)

    def describe(self) -> str:
        return f"{self.node} isolated"


@dataclass(frozen=True)
class BlockLink:
    """One direction of one link is cut: ``src`` cannot reach ``dest`` (the reverse still works)."""

    src: str
    dest: str

    def blocks(self, src: str, dest: str) -> bool:
        return (src, dest) == (self.src, self.dest)

    def describe(self) -> str:
        return f"{self.src} -> {self.dest} blocked"


Cut: TypeAlias = Groups | Isolate | BlockLink


def _cut_to_dict(cut: Cut) -> dict[str, Any]:
    if isinstance(cut, Groups):
        return {"cut": "groups", "groups": {name: list(m) for name, m in cut.groups}}
    if isinstance(cut, Isolate):
        return {"cut": "isolate", "node": cut.node}
    return {"cut": "block", "src": cut.src, "dest": cut.dest}


def _cut_from_dict(data: Mapping[str, Any]) -> Cut:
    kind = data.get("cut")
    if kind == "groups":
        return Groups(tuple((name, tuple(m)) for name, m in data["groups"].items()))
    if kind == "isolate":
        return Isolate(data["node"])
    if kind == "block":
        return BlockLink(data["src"], data["dest"])
    raise ConfigError(f"unknown partition kind {kind!r} (expected groups, isolate or block)")


def make_groups(groups: Mapping[str, Iterable[str]] | Iterable[Iterable[str]]) -> Groups:
    """Build a :class:`Groups` cut from ``{"name": [nodes]}`` or from lists (named g1, g2...)."""
    if isinstance(groups, Mapping):
        raw = [(str(name), members) for name, members in groups.items()]
    else:
        raw = [(f"g{i}", members) for i, members in enumerate(groups, start=1)]
    named = []
    for name, members in raw:
        if isinstance(members, str):
            raise ConfigError(
                f"partition group {name!r} must be a list of node names, got the string "
                f"{members!r} (write [{members!r}])"
            )
        named.append((name, tuple(members)))
    seen: dict[str, str] = {}
    for name, members in named:
        if not members:
            raise ConfigError(f"partition group {name!r} is empty: name at least one node")
        for node in members:
            if node in seen:
                where = (
                    f"twice in group {name!r}"
                    if seen[node] == name
                    else f"in two partition groups ({seen[node]!r} and {name!r})"
                )
                raise ConfigError(f"node {node!r} is {where}")
            seen[node] = name
    if len(named) < 2:
        raise ConfigError("a partition needs at least two groups (use isolate() for one node)")
    return Groups(tuple(named))


@dataclass(frozen=True)
class FaultState:
    """Every fault in force: default link faults, per-link overrides, and partition cuts."""

    default: LinkFaults = field(default_factory=LinkFaults)
    overrides: tuple[tuple[tuple[str, str], LinkFaults], ...] = ()
    cuts: tuple[Cut, ...] = ()

    def faults_for(self, src: str, dest: str) -> LinkFaults:
        for link, faults in self.overrides:
            if link == (src, dest):
                return faults
        return self.default

    def cut_blocking(self, src: str, dest: str) -> Cut | None:
        for cut in self.cuts:
            if cut.blocks(src, dest):
                return cut
        return None

    def describe(self) -> str:
        parts = [self.default.describe()]
        parts += [f"{s}->{d}: {f.describe()}" for (s, d), f in self.overrides]
        parts += [f"partition: {cut.describe()}" for cut in self.cuts]
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "default": asdict(self.default),
            "overrides": [
                {"src": s, "dest": d, "faults": asdict(f)} for (s, d), f in self.overrides
            ],
            "cuts": [_cut_to_dict(c) for c in self.cuts],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultState:
        return cls(
            default=LinkFaults(**data.get("default", {})),
            overrides=tuple(
                ((o["src"], o["dest"]), LinkFaults(**o["faults"]))
                for o in data.get("overrides", [])
            ),
            cuts=tuple(_cut_from_dict(c) for c in data.get("cuts", [])),
        )
