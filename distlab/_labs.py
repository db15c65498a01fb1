"""Labs on disk: ``labs/NN-slug/`` with a ``lab.toml`` spec, a solution, and a demo scenario.

A lab's spec is small and machine-readable::

    title = "Ping: retry until the server answers"
    solution = "solution.py"          # the reference solution (the default --impl)
    scenario = "demo.py"              # defines `async def scenario(cluster, *, duration)`
    duration = 10.0                   # seconds the demo may take

    [[nodes]]                         # one table per role
    role = "server"
    class = "PingServer"
    count = 1                         # count > 1 names nodes server-1, server-2, ...
    # file = "client.py"              # a node the lab provides (not the student's)

    [config]                          # parameters the nodes read as self.config[...]
    pings = 5

    [mutants]                         # mutants/<name>.py = the graded test it must fail
    gives_up = "test_lost_pings_are_retried"

    [tui]                             # what the TUI shows besides the usual (docs/tui.md)
    columns = ["role", "term"]        # status fields with a column of their own
    [tui.parts]                       # a node's part, as the node that decides it publishes it
    booting = "cloud.booting"         #   (the status field lists names; the first match wins)
    [tui.chart]                       # a count over time: len() of a list field, or a number
    title = "instances"
    count = "cloud.instances"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._cluster import Cluster, ClusterSpec, NodeSpec
from ._errors import ConfigError, ImplementationError, LabNotFoundError, error_words
from ._loading import NodeRef, fresh_node_class, harness_node, load_module, load_node_class
from ._node import Node

SPEC_FILE = "lab.toml"


@dataclass(frozen=True)
class ScenarioResult:
    """A demo scenario's verdict: passed or not, and a sentence saying what happened."""

    passed: bool
    summary: str

    @classmethod
    def ok(cls, summary: str) -> ScenarioResult:
        return cls(True, summary)

    @classmethod
    def failed(cls, summary: str) -> ScenarioResult:
        return cls(False, summary)


Scenario = Callable[..., Awaitable[ScenarioResult]]


async def play(scenario: Scenario, cluster: Cluster, *, duration: float) -> ScenarioResult:
    """Run a demo scenario. One that raises (it is lab code) fails the run, in words: the
    run's summary and the TUI report it; nothing crashes."""
    try:
        return await scenario(cluster, duration=duration)
    except Exception as exc:
        return ScenarioResult.failed(f"the demo scenario raised {error_words(exc)}")


@dataclass(frozen=True)
class RoleSpec:
    role: str
    class_name: str
    count: int
    #: a lab-provided node (e.g. a client that drives the demo), not the student's: its file
    provided_by: Path | None = None
    #: a lab-provided node that runs in the supervisor, trusted (a ProviderNode: the cloud)
    trusted: bool = False

    def node_names(self, count: int | None = None) -> list[str]:
        """``server`` for a role of one node; ``worker-1`` ... ``worker-N`` for a role of many.

        ``count`` overrides how many (a test may run fewer or more); the names keep the lab's
        style, so a role of several nodes run with one is still ``worker-1``.
        """
        if self.count == 1 and count in (None, 1):
            return [self.role]
        return [f"{self.role}-{i}" for i in range(1, (self.count if count is None else count) + 1)]


@dataclass(frozen=True)
class PartSpec:
    """A part nodes can be in, as a node that decides it publishes it: lab.toml's
    ``[tui.parts] draining = "lb.draining"`` is ``PartSpec("draining", "lb", "draining")``: the
    nodes that ``lb``'s status field ``draining`` lists are draining."""

    part: str
    node: str
    field: str


@dataclass(frozen=True)
class ChartSpec:
    """A count over time for the TUI's chart: lab.toml's ``[tui.chart] title = "instances"``,
    ``count = "cloud.instances"`` (the length of a list status field of one node, or a number
    field itself)."""

    title: str
    node: str
    field: str


@dataclass(frozen=True)
class Lab:
    number: int
    slug: str
    title: str
    path: Path
    solution: Path
    scenario_file: Path
    duration: float
    roles: tuple[RoleSpec, ...]
    config: Mapping[str, Any]
    #: known-buggy implementations: file in mutants/ -> the graded test it must fail
    mutants: Mapping[Path, str] = field(default_factory=dict)
    #: status fields the TUI's nodes table shows in columns of their own ([tui] columns)
    columns: tuple[str, ...] = ()
    #: the parts nodes can be in, as other nodes publish them ([tui.parts]), first match first
    parts: tuple[PartSpec, ...] = ()
    #: a count the TUI charts over time ([tui.chart]), if the lab declares one
    chart: ChartSpec | None = None

    def cluster_spec(
        self,
        impl: Path | None = None,
        *,
        counts: Mapping[str, int] | None = None,
        check: bool = True,
    ) -> ClusterSpec:
        """The lab's nodes, with classes from ``impl`` (default: the solution).

        ``counts`` runs some roles with another number of nodes than lab.toml's:
        ``{"judge": 1}``. The nodes' classes are :class:`NodeRef` s, loaded afresh by each
        incarnation; ``check`` first imports each file once (then forgets it), so that a file
        that does not import, or lacks a class, is one clear error now. The grader's trusted
        side passes ``check=False``: it never runs student code, the node host checks instead.
        """
        path = impl or self.solution
        counts = dict(counts or {})
        unknown = sorted(set(counts) - {role.role for role in self.roles})
        if unknown:
            raise ConfigError(
                f"no role {', '.join(map(repr, unknown))} in lab {self.number}: its roles are "
                f"{', '.join(role.role for role in self.roles)}"
            )
        for role_name, count in counts.items():
            if not isinstance(count, int) or count < 0:
                raise ConfigError(
                    f"counts[{role_name!r}] = {count!r}: give a whole number of nodes, 0 or more"
                )
        nodes = []
        for role in self.roles:
            ref = NodeRef((role.provided_by or path).resolve(), role.class_name)
            node_class: type[Node] | NodeRef = ref
            if role.trusted:  # the lab's own code, run in the supervisor with its powers
                node_class = harness_node(load_node_class(ref.path, ref.class_name))
            elif check:
                fresh_node_class(ref)
            names = role.node_names(counts.get(role.role))
            nodes += [NodeSpec(name, role.role, node_class) for name in names]
        return ClusterSpec(tuple(nodes), dict(self.config), lab=self.slug)

    def scenario(self) -> Scenario:
        module = load_module(self.scenario_file)
        fn = getattr(module, "scenario", None)
        if not callable(fn):
            raise ImplementationError(
                f"{self.scenario_file} must define `async def scenario(cluster, *, duration)`"
            )
        return fn  # type: ignore[no-any-return]


def labs_dir() -> Path:
    """Where the labs are, the first of: ``$DISTLAB_LABS`` (``distlab --labs DIR`` sets it); a
    course's ``labs/`` folder, found from the current folder up (a folder of lab folders, as
    ``distlab course build`` writes); the ``labs/`` folder of this source tree; the labs an
    installed distlab carries (``distlab/labs``)."""
    env = os.environ.get("DISTLAB_LABS")
    if env:
        return Path(env)
    course = course_labs(Path.cwd())
    if course is not None:
        return course
    package = Path(__file__).resolve().parent
    source_tree = package.parent / "labs"
    return source_tree if source_tree.is_dir() else package / "labs"


def course_labs(start: Path) -> Path | None:
    """The nearest ``labs/`` folder holding a lab (``NN-slug/lab.toml``), from ``start`` up."""
    for folder in (start, *start.parents):
        candidate = folder / "labs"
        if candidate.is_dir() and any(candidate.glob(f"[0-9]*-*/{SPEC_FILE}")):
            return candidate
    return None


def _field(spec: Mapping[str, Any], key: str, kind: type, where: Path) -> Any:
    value = spec.get(key)
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: '{key}' must be a {kind.__name__}, got {value!r}")
    return value


def load_lab(path: Path) -> Lab:
    spec_path = path / SPEC_FILE
    try:
        spec = tomllib.loads(spec_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{spec_path}: not valid TOML ({exc})") from None
    number_text = path.name.split("-", 1)[0]
    if not number_text.isdigit():
        raise ConfigError(f"{path}: a lab folder is named NN-slug, e.g. 00-ping")
    roles = []
    for i, role in enumerate(spec.get("nodes", [])):
        where = Path(f"{spec_path} [[nodes]] #{i + 1}")
        count = role.get("count", 1)
        if not (isinstance(count, int) and count >= 1):
            raise ConfigError(f"{where}: 'count' must be a whole number >= 1, got {count!r}")
        provided = role.get("file")
        if provided is not None and not (path / str(provided)).is_file():
            raise ConfigError(f"{where}: 'file' names {path / str(provided)}, which does not exist")
        trusted = role.get("trusted", False)
        if not isinstance(trusted, bool) or (trusted and provided is None):
            raise ConfigError(
                f"{where}: 'trusted' is true or false, and true only for a role whose 'file' "
                f"the lab provides (its provider), got {trusted!r}"
            )
        roles.append(
            RoleSpec(
                _field(role, "role", str, where),
                _field(role, "class", str, where),
                count,
                provided_by=path / provided if provided is not None else None,
                trusted=trusted,
            )
        )
    if not roles:
        raise ConfigError(f"{spec_path}: no [[nodes]] tables: a lab needs at least one role")
    duration = spec.get("duration", 10.0)
    if not (isinstance(duration, int | float) and duration > 0):
        raise ConfigError(f"{spec_path}: 'duration' must be seconds > 0, got {duration!r}")
    names = [name for role in roles for name in role.node_names()]
    columns, parts, chart = _tui(spec_path, spec.get("tui", {}), names)
    return Lab(
        number=int(number_text),
        slug=path.name,
        title=_field(spec, "title", str, spec_path),
        path=path,
        solution=path / _field(spec, "solution", str, spec_path),
        scenario_file=path / spec.get("scenario", "demo.py"),
        duration=float(duration),
        roles=tuple(roles),
        config=dict(spec.get("config", {})),
        mutants=_mutants(path, spec_path, spec.get("mutants", {})),
        columns=columns,
        parts=parts,
        chart=chart,
    )


TUI_KEYS = ("columns", "parts", "chart")
CHART_KEYS = ("title", "count")


def _tui(
    spec_path: Path, table: Any, names: list[str]
) -> tuple[tuple[str, ...], tuple[PartSpec, ...], ChartSpec | None]:
    """lab.toml's ``[tui]`` table: its columns, parts and chart (``names``: the lab's nodes)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{spec_path}: 'tui' must be a table ([tui]), got {table!r}")
    unknown = sorted(set(table) - set(TUI_KEYS))
    if unknown:
        raise ConfigError(
            f"{spec_path} [tui]: unknown key {', '.join(map(repr, unknown))}: the keys are "
            f"{', '.join(TUI_KEYS)} (see docs/writing-a-lab.md)"
        )
    parts = table.get("parts", {})
    if not isinstance(parts, dict):
        raise ConfigError(
            f"{spec_path}: 'tui.parts' must be a table [tui.parts] of part = \"node.field\", "
            f'e.g. draining = "lb.draining", got {parts!r}'
        )
    part_specs = []
    for part, value in parts.items():
        where = f"{spec_path} [tui.parts] {part!r}"
        node, field_name = _node_field(where, value, names, example="lb.draining")
        part_specs.append(PartSpec(part, node, field_name))
    return (
        _columns(spec_path, table),
        tuple(part_specs),
        _chart(spec_path, table.get("chart"), names),
    )


def _chart(spec_path: Path, table: Any, names: list[str]) -> ChartSpec | None:
    if table is None:
        return None
    example = '[tui.chart] title = "instances", count = "cloud.instances"'
    if not isinstance(table, dict):
        raise ConfigError(f"{spec_path}: 'tui.chart' must be a table, e.g. {example}")
    unknown = sorted(set(table) - set(CHART_KEYS))
    if unknown or "count" not in table:
        wrong = f"unknown key {', '.join(map(repr, unknown))}" if unknown else "no 'count'"
        raise ConfigError(
            f"{spec_path} [tui.chart]: {wrong}: the keys are 'count' (\"node.field\") and "
            f"'title' (optional), e.g. {example}"
        )
    node, field_name = _node_field(
        f"{spec_path} [tui.chart] 'count'", table["count"], names, example="cloud.instances"
    )
    title = table.get("title", field_name)
    if not (isinstance(title, str) and title):
        raise ConfigError(
            f"{spec_path} [tui.chart] 'title': the chart's name in words, e.g. "
            f'title = "instances", got {title!r}'
        )
    return ChartSpec(title, node, field_name)


def _node_field(where: str, value: Any, names: list[str], *, example: str) -> tuple[str, str]:
    """``"lb.draining"``: the node ``lb``, its status field ``draining``."""
    node, _, field_name = value.partition(".") if isinstance(value, str) else ("", "", "")
    if not (node and field_name):
        raise ConfigError(
            f'{where}: must be "node.field", a node and one of its status fields, e.g. '
            f'"{example}", got {value!r}'
        )
    if node not in names:
        raise ConfigError(
            f'{where}: {value!r} names no node of the lab: write "node.field" with one of '
            f"{', '.join(names)}"
        )
    return node, field_name


def _columns(spec_path: Path, table: Mapping[str, Any]) -> tuple[str, ...]:
    columns = table.get("columns", [])
    if not (isinstance(columns, list) and all(isinstance(c, str) and c for c in columns)):
        raise ConfigError(
            f"{spec_path} [tui]: 'columns' must be a list of status field names, e.g. "
            f'["role", "term"], got {columns!r}'
        )
    return tuple(columns)


def _mutants(path: Path, spec_path: Path, table: Mapping[str, Any]) -> dict[Path, str]:
    mutants = {}
    for stem, target in table.items():
        file = path / "mutants" / f"{stem}.py"
        if not file.is_file():
            raise ConfigError(f"{spec_path} [mutants]: no file {file}")
        if not isinstance(target, str):
            raise ConfigError(f"{spec_path} [mutants]: {stem} must name the test it targets")
        mutants[file] = target
    return mutants


def list_labs(root: Path | None = None) -> list[Lab]:
    """Every lab in ``root`` (default: :func:`labs_dir`); a broken one raises its error."""
    labs, broken = survey_labs(root)
    if broken:
        raise broken[0][1]
    return labs


def survey_labs(root: Path | None = None) -> tuple[list[Lab], list[tuple[Path, ConfigError]]]:
    """The labs that load, and each folder whose lab.toml does not with its error: one broken
    lab does not hide the others."""
    root = root or labs_dir()
    if not root.is_dir():
        raise LabNotFoundError(
            f"no labs folder at {root}: run distlab in a course's folder, or name the folder "
            "of labs with --labs DIR"
        )
    labs, broken = [], []
    for folder in sorted(p for p in root.iterdir() if (p / SPEC_FILE).is_file()):
        try:
            labs.append(load_lab(folder))
        except ConfigError as exc:
            broken.append((folder, exc))
    return sorted(labs, key=lambda lab: lab.number), broken


def find_lab(key: str, root: Path | None = None) -> Lab:
    """A lab by number (``0``, ``00``), slug (``00-ping``) or name (``ping``).

    Only the lab asked for is loaded, so one lab with a broken spec does not stop the others.
    """
    root = root or labs_dir()
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        number, _, name = folder.name.partition("-")
        matches = key in (folder.name, name) or (
            key.isdigit() and number.isdigit() and int(key) == int(number)
        )
        if matches and (folder / SPEC_FILE).is_file():
            return load_lab(folder)
    labs, _ = survey_labs(root)
    known = ", ".join(f"{lab.number} ({lab.slug})" for lab in labs)
    raise LabNotFoundError(f"no lab {key!r}; the labs are: {known}. See `distlab list`.")
