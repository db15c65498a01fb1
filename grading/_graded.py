"""Graded lab tests: ``@graded`` turns an async test body into a test with points and seeds.

A graded test is written once and runs two ways. ``pytest labs/00-ping/tests`` runs it like any
test, against the lab's solution (or ``$DISTLAB_IMPL``), over all its seeds. ``distlab grade``
runs it seed by seed in a separate worker process with a time budget and a memory limit, and
reports each seed's verdict. Both go through ``GradedTest.run_seed``.

Each seed is one run of the body, on the simulator by default (virtual time, reproducible), or
live (``runtime="live"``). The test passes only if every seed passes.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias

import trio

from distlab import (
    ConfigError,
    DistlabError,
    ImplementationError,
    Message,
    Node,
    RPCTimeoutError,
)
from distlab._cluster import Cluster, Placement, open_cluster
from distlab._errors import NodeHungError
from distlab._faults import FaultState
from distlab._labs import Lab, load_lab
from distlab._loading import forget_loaded, harness_node
from distlab._seeds import derive_seed, derived_rng
from distlab._sim import run_simulated
from distlab._trace import CHECK_FAILED, CRASH, TraceEvent, read_trace, trace_digest

from ._history import History
from ._results import CheckFailed, SeedResult, Visibility
from ._schedule import FaultSchedule

Runtime: TypeAlias = Literal["sim", "live"]
TestBody: TypeAlias = Callable[["LabRun"], Awaitable[None]]
GRADED_ATTR = "__distlab_graded__"


class Client:
    """A workload driver: sends requests into the cluster and records a history.

    ``reply = await client.call("master", {"type": "sum", "numbers": [1, 2]}, timeout=1)``
    records an ``invoke``, then ``ok`` (a reply), ``fail`` (a reply of type ``"error"``) or
    ``timeout``. Its messages cross the network like any node's.
    """

    def __init__(self, cluster: Cluster, name: str, history: History) -> None:
        self._cluster = cluster
        self.name = name
        self.history = history

    async def call(self, dest: str, body: Mapping[str, Any], *, timeout: float) -> Message | None:
        node = self._cluster.node_object(self.name)
        f = str(body.get("type"))
        op = self.history.invoke(self.name, f, dict(body), self._cluster.now(), dest=dest)
        try:
            reply = await node.rpc(dest, body, timeout=timeout)
        except RPCTimeoutError:
            self.history.complete(op, "timeout", None, self._cluster.now())
            return None
        kind: Literal["ok", "fail"] = "fail" if reply.type == "error" else "ok"
        self.history.complete(op, kind, dict(reply.body), self._cluster.now())
        return reply


@harness_node
class _ClientNode(Node):
    """The node a Client speaks through: it handles nothing by itself."""


class LabRun:
    """What a graded test body gets: the lab, this seed, and ways to start a cluster.

    Example::

        @graded(points=3, seeds=20)
        async def test_pongs_arrive(run: LabRun) -> None:
            async with run.cluster(drop=0.3) as cluster:
                with trio.fail_after(20):
                    await cluster.wait_for_status("client", lambda s: s.get("done"))
    """

    def __init__(
        self,
        *,
        lab: Lab,
        impl: Path | None,
        seed: int,
        runtime: Runtime,
        trace_path: Path | None,
        test_name: str = "",
    ) -> None:
        self.lab = lab
        self.impl = impl
        #: the seed number the report shows and ``--seed`` takes
        self.seed = seed
        #: what this run is seeded with: seed N of two tests are different runs, so one unlucky
        #: draw (an early election, a crash at the worst moment) does not fail every test at once
        self.test_seed = seed_of_test(seed, test_name)
        self.runtime = runtime
        self.trace_path = trace_path
        self.config: Mapping[str, Any] = dict(lab.config)
        self.random = derived_rng(self.test_seed, "test")
        self.history = History()
        self.clusters: list[Cluster] = []

    @asynccontextmanager
    async def cluster(
        self,
        *,
        config: Mapping[str, Any] | None = None,
        counts: Mapping[str, int] | None = None,
        faults: FaultState | None = None,
        **fault_settings: Any,
    ) -> AsyncIterator[Cluster]:
        """Start the lab's nodes (from the implementation under test) for this seed.

        Fault settings go straight to the network: ``run.cluster(drop=0.2, delay=0.01)``.
        ``config`` overrides some of the lab's parameters; ``counts`` how many nodes some roles
        have (``counts={"worker": 1}``: one worker, named ``worker-1``).
        """
        # check=False: the grader's side never imports the student's code. It runs in a node
        # host (simulated) or one process per node (live), which report what it did.
        spec = self.lab.cluster_spec(self.impl, counts=counts, check=False)
        if config:
            spec = replace(spec, config={**spec.config, **config})
        placement: Placement = "sim" if self.runtime == "sim" else "processes"
        async with open_cluster(
            spec,
            seed=self.test_seed,
            placement=placement,
            faults=faults,
            trace_path=self._trace_file_now(),
        ) as cluster:
            self.clusters.append(cluster)
            if fault_settings:
                cluster.network.set_faults(**fault_settings)
            yield cluster

    def _trace_file_now(self) -> Path | None:
        """Where the first cluster writes its trace as it runs: live runs only.

        A simulated run keeps every event in memory anyway, and most seeds pass: their trace is
        written only if they fail (``write_kept_trace``), which spares each passing seed the
        encoding of every event.
        """
        if self.clusters or self.runtime == "sim":
            return None
        return self.trace_path

    def write_kept_trace(self) -> None:
        """Write the first cluster's trace to ``trace_path``, if it was kept in memory."""
        if self.trace_path is None or self.runtime != "sim" or not self.clusters:
            return
        self.trace_path.parent.mkdir(parents=True, exist_ok=True)
        with self.trace_path.open("w", encoding="utf-8") as f:
            for event in self.clusters[0].trace.events:
                f.write(event.to_json() + "\n")

    def digest(self) -> str:
        """SHA-256 of every cluster's trace: equal digests, identical runs."""
        return trace_digest(event for c in self.clusters for event in c.trace.events)

    def schedule(self, cluster: Cluster) -> FaultSchedule:
        """A fault schedule for ``cluster``, seeded with this run's seed (see grading.faults)."""
        return FaultSchedule(cluster, seed=self.test_seed)

    async def client(self, cluster: Cluster, name: str = "client-1") -> Client:
        """Add a client node to the cluster and return a Client that drives it."""
        if name in cluster.roster:
            raise ConfigError(
                f"run.client: the cluster already has a node named {name!r} (one of the lab's "
                f'own): name the test\'s client, e.g. run.client(cluster, name="user-1")'
            )
        await cluster.spawn(name, role="harness-client", node_class=_ClientNode)
        for _ in range(100):  # the node object is created by its own task, a tick later
            if cluster.state(name) == "up" and _has_object(cluster, name):
                break
            await trio.sleep(0)
        return Client(cluster, name, self.history)


def seed_of_test(seed: int, test_name: str) -> int:
    """The seed a graded test's run uses for seed number ``seed``: its own for each test."""
    return derive_seed(seed, "graded test", test_name) % 2**31 if test_name else seed


def _has_object(cluster: Cluster, name: str) -> bool:
    try:
        cluster.node_object(name)
    except DistlabError:
        return False
    return True


@dataclass(frozen=True)
class GradedTest:
    fn: TestBody
    name: str
    description: str
    points: float
    visibility: Visibility
    budget: float  # wall-clock seconds for all its seeds
    seeds: int
    runtime: Runtime
    lab_dir: Path
    source: Path

    def lab(self) -> Lab:
        return load_lab(self.lab_dir)

    def run_seed(
        self,
        seed: int,
        *,
        impl: Path | None,
        trace_dir: Path | None = None,
        lab: Lab | None = None,
    ) -> SeedResult:
        """Run the body once on ``seed``; never raises for anything the implementation does."""
        trace = trace_dir / f"{self.name}-seed{seed}.jsonl" if trace_dir else None
        forget_loaded(keep=[self.source])  # this seed runs the student's code afresh
        run = LabRun(
            lab=lab or self.lab(),
            impl=impl,
            seed=seed,
            runtime=self.runtime,
            trace_path=trace,
            test_name=self.name,
        )
        began = time.perf_counter()
        outcome, message = "passed", ""
        span: tuple[float, float] | None = None
        try:
            if self.runtime == "sim":
                run_simulated(self.fn, run, seed=run.test_seed)
            else:
                trio.run(self.fn, run)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            outcome, message = _verdict(exc)
            span = _span_of(exc)
        events = sum(len(c.trace.events) for c in run.clusters)
        memory = _memory_crash(run)
        if memory is not None:
            outcome, message = "memory", memory
        seconds = time.perf_counter() - began
        calls = sorted({call for c in run.clusters for call in c.nondeterminism})
        if outcome == "passed":
            if trace is not None:
                trace.unlink(missing_ok=True)
            return SeedResult(seed, "passed", "", seconds, events, nondeterminism=calls)
        kept = None
        with contextlib.suppress(OSError, MemoryError):  # the verdict matters more than its trace
            run.write_kept_trace()
        if trace is not None and trace.exists():
            _append_verdict(trace, self.name, message, span)
            kept = str(trace)
        return SeedResult(
            seed,
            outcome,  # type: ignore[arg-type]
            message,
            seconds,
            events,
            kept,
            digest=run.digest(),
            nondeterminism=calls,
        )

    def check_all_seeds(self) -> None:
        """The pytest entry: every seed must pass (impl from $DISTLAB_IMPL, else the solution)."""
        impl_env = os.environ.get("DISTLAB_IMPL")
        impl = Path(impl_env) if impl_env else None
        seeds = int(os.environ.get("DISTLAB_SEEDS", self.seeds))
        lab = self.lab()
        failures = []
        for seed in range(1, seeds + 1):
            result = self.run_seed(seed, impl=impl, lab=lab)
            if result.outcome != "passed":
                failures.append(f"seed {seed}: {result.message}")
        if failures:
            raise CheckFailed(
                f"{len(failures)} of {seeds} seeds failed:\n" + "\n".join(failures[:5])
            )


def _append_verdict(
    trace: Path, test: str, message: str, span: tuple[float, float] | None = None
) -> None:
    """End a failing seed's trace with what the check found, for replay to jump to; and, when
    the check named the stretch of the run where it went wrong (``span``: a linearizability
    failure's window), that stretch (``from``, ``until``)."""
    events = list(read_trace(trace))
    seq, t = (events[-1].seq, events[-1].t) if events else (0, 0.0)
    fields: dict[str, Any] = {"test": test, "message": message}
    if span is not None:
        fields["from"], fields["until"] = span
    verdict = TraceEvent(seq + 1, t, CHECK_FAILED, fields)
    with trace.open("a", encoding="utf-8") as f:
        f.write(verdict.to_json() + "\n")


def _span_of(exc: BaseException) -> tuple[float, float] | None:
    """The stretch of the run a failed check points at (``.span`` on the failure), if any."""
    for leaf in _leaves(exc):
        span = getattr(leaf, "span", None) if isinstance(leaf, CheckFailed) else None
        if isinstance(span, tuple) and len(span) == 2:
            return float(span[0]), float(span[1])
    return None


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _verdict(exc: BaseException) -> tuple[str, str]:
    """Turn what a seed raised into (outcome, message in plain words)."""
    leaves = _leaves(exc)
    for leaf in leaves:
        if isinstance(leaf, MemoryError):
            return "memory", "memory limit: the run ran out of memory"
    for leaf in leaves:
        if isinstance(leaf, AssertionError):
            return "failed", str(leaf) or "an assertion in the test failed"
    for leaf in leaves:
        if isinstance(leaf, NodeHungError):
            return "timeout", str(leaf)
    for leaf in leaves:
        if isinstance(leaf, ImplementationError):
            return "error", str(leaf)
    for leaf in leaves:
        if isinstance(leaf, trio.TooSlowError):
            where = traceback.extract_tb(leaf.__traceback__)
            line = next((f for f in reversed(where) if "/tests/" in f.filename), None)
            at = f" (at {Path(line.filename).name}:{line.lineno}: {line.line})" if line else ""
            return "failed", f"the test waited too long for something that never happened{at}"
    leaf = leaves[0]
    text = "".join(traceback.format_exception_only(type(leaf), leaf)).strip()
    return "error", f"the test raised {text}"


def _memory_crash(run: LabRun) -> str | None:
    for cluster in run.clusters:
        for event in cluster.trace.of_kind(CRASH):
            if str(event.get("reason", "")).startswith("MemoryError"):
                return f"memory limit: node {event['node']} ran out of memory at t={event.t:.3f} s"
    return None


def graded(
    *,
    points: float,
    seeds: int = 10,
    budget: float = 60.0,
    visibility: Visibility = "visible",
    runtime: Runtime = "sim",
) -> Callable[[TestBody], Callable[[], None]]:
    """Declare a graded lab test: its points, seeds, time budget and visibility.

    ``budget`` is the wall-clock time allowed for all its seeds together. The decorated
    function stays a pytest test (sync, no arguments) that checks every seed.
    """
    if points <= 0 or seeds < 1 or budget <= 0:
        raise ValueError("@graded needs points > 0, seeds >= 1 and budget > 0 seconds")

    def mark(fn: TestBody) -> Callable[[], None]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"graded test {fn.__name__} must be 'async def'")
        source = Path(inspect.getfile(fn)).resolve()
        test = GradedTest(
            fn=fn,
            name=fn.__name__,
            description=(inspect.getdoc(fn) or "").split("\n")[0],
            points=points,
            visibility=visibility,
            budget=budget,
            seeds=seeds,
            runtime=runtime,
            lab_dir=source.parent.parent,
            source=source,
        )

        def pytest_entry() -> None:
            test.check_all_seeds()

        pytest_entry.__name__ = fn.__name__
        pytest_entry.__qualname__ = fn.__qualname__
        pytest_entry.__doc__ = fn.__doc__
        setattr(pytest_entry, GRADED_ATTR, test)
        return pytest_entry

    return mark


def graded_tests(test_file: Path) -> list[GradedTest]:
    """The graded tests a lab test file defines, in file order."""
    from distlab._loading import load_module

    module = load_module(test_file)
    found = [getattr(v, GRADED_ATTR) for v in vars(module).values() if hasattr(v, GRADED_ATTR)]
    return sorted(found, key=lambda t: inspect.getsourcelines(t.fn)[1])
