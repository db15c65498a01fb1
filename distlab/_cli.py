"""The ``distlab`` command."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import trio
from rich.console import Console
from rich.markup import escape

from ._cluster import Placement, open_cluster, random_seed
from ._describe import describe, message_totals, network_diagnosis, node_table
from ._errors import DistlabError
from ._faults import FaultState, LinkFaults
from ._labs import Lab, ScenarioResult, find_lab, list_labs
from ._trace import TraceEvent
from ._version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
LOG_REFRESH = 0.1
LOG_LINES_PER_REFRESH = 200


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distlab",
        description="Learn distributed systems by building them: run a lab's cluster with "
        "your code, break its network, and watch it recover.",
    )
    parser.add_argument("--version", action="version", version=f"distlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser(
        "list",
        help="list the labs: number, slug and title",
        description="List the labs: number, slug and title.",
    )

    run = commands.add_parser(
        "run",
        help="run a lab's demo scenario headless, with a live log and a summary",
        description="Run a lab's demo scenario headless, with a live log and a summary. "
        "Exits 0 when the scenario's own check passes, 1 when it fails.",
    )
    run.add_argument("lab", metavar="LAB", help="lab number or slug, e.g. 0 or 00-ping")
    run.add_argument(
        "--impl",
        type=Path,
        metavar="PATH",
        help="Python file defining the lab's node classes (default: the lab's solution)",
    )
    run.add_argument(
        "--processes",
        action="store_true",
        help="run each node in its own OS process (default: all in this one)",
    )
    run.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seed for the network's and nodes' randomness (default: random)",
    )
    run.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="how long the scenario may run (default: the lab's)",
    )
    run.add_argument(
        "--delay",
        type=float,
        default=0.0,
        metavar="MS",
        help="mean one-way message delay, in milliseconds",
    )
    run.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        metavar="MS",
        help="spread of the delay, in milliseconds",
    )
    run.add_argument(
        "--drop",
        type=float,
        default=0.0,
        metavar="P",
        help="probability that a message is lost (0 to 1)",
    )
    run.add_argument(
        "--duplicate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability that a message is delivered twice (0 to 1)",
    )
    run.add_argument(
        "--trace", type=Path, metavar="FILE", help="write every event of the run to FILE as JSONL"
    )
    run.add_argument("--quiet", action="store_true", help="no live log; just the summary")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run_cli(argv))


def run_cli(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    try:
        if args.command == "list":
            return _list(console)
        return _run(args, console)
    except DistlabError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_USAGE


def _list(console: Console) -> int:
    for lab in list_labs():
        console.print(f"{lab.number:>3}  {lab.slug:<24} {lab.title}")
    return EXIT_OK


def _faults_from(args: argparse.Namespace) -> FaultState:
    for flag in ("delay", "jitter"):
        if getattr(args, flag) < 0:
            raise DistlabError(f"--{flag} must be milliseconds >= 0, got {getattr(args, flag)}")
    try:
        faults = LinkFaults(
            delay=args.delay / 1000,
            jitter=args.jitter / 1000,
            drop=args.drop,
            duplicate=args.duplicate,
        )
    except ValueError as exc:
        raise DistlabError(f"bad fault flag: {exc}") from None
    return FaultState(default=faults)


def replay_command(lab: Lab, args: argparse.Namespace, seed: int) -> str:
    words = ["distlab", "run", str(lab.number), "--seed", str(seed)]
    if args.impl:
        words += ["--impl", str(args.impl)]
    if args.processes:
        words.append("--processes")
    for flag in ("delay", "jitter", "drop", "duplicate"):
        if getattr(args, flag):
            words += [f"--{flag}", f"{getattr(args, flag):g}"]
    if args.duration:
        words += ["--duration", f"{args.duration:g}"]
    return shlex.join(words)


def _run(args: argparse.Namespace, console: Console) -> int:
    lab = find_lab(args.lab)
    faults = _faults_from(args)
    spec = lab.cluster_spec(args.impl)
    scenario = lab.scenario()
    if args.duration is not None and not args.duration > 0:
        raise DistlabError(f"--duration must be seconds > 0, got {args.duration}")
    duration = args.duration or lab.duration
    seed = args.seed if args.seed is not None else random_seed()
    placement: Placement = "processes" if args.processes else "inprocess"
    console.print(
        f"[bold]distlab run {lab.slug}[/]: {lab.title}\n"
        f"seed {seed} · {'one process per node' if args.processes else 'all nodes in-process'}"
        f" · {faults.describe()} · up to {duration:g} s",
        soft_wrap=True,
    )

    async def go() -> tuple[ScenarioResult, list[TraceEvent], dict[str, str]]:
        pending: list[TraceEvent] = []
        async with open_cluster(
            spec, seed=seed, placement=placement, faults=faults, trace_path=args.trace
        ) as cluster:
            if not args.quiet:
                cluster.trace.subscribe(pending.append)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_print_log, console, pending)
                result = await scenario(cluster, duration=duration)
                nursery.cancel_scope.cancel()
        _flush_log(console, pending)
        states = {name: cluster.state(name) for name in cluster.names}
        return result, cluster.trace.events, states

    try:
        result, events, states = trio.run(go)
    except KeyboardInterrupt:
        console.print("[bold yellow]interrupted[/]")
        return EXIT_INTERRUPTED
    console.print()
    console.print(node_table(events, states))
    totals = message_totals(events)
    console.print(
        f"messages: {totals['send']} sent, {totals['deliver']} delivered, "
        f"{totals['drop']} dropped, {totals['lost']} lost, {totals['duplicate']} duplicated"
    )
    if args.trace:
        console.print(f"trace: {args.trace}")
    if result.passed:
        console.print(f"[bold green]PASS[/] {result.summary}")
        return EXIT_OK
    console.print(f"[bold red]FAIL[/] {result.summary}")
    why = network_diagnosis(events)
    if why:
        console.print(f"[bold]why:[/] {why}")
    console.print(f"replay this run: {replay_command(lab, args, seed)}")
    return EXIT_FAILED


async def _print_log(console: Console, pending: list[TraceEvent]) -> None:
    """Print events in batches: the runtime never waits for the terminal."""
    while True:
        await trio.sleep(LOG_REFRESH)
        _flush_log(console, pending)


def _flush_log(console: Console, pending: list[TraceEvent]) -> None:
    batch = pending[:LOG_LINES_PER_REFRESH]
    skipped = len(pending) - len(batch)
    pending.clear()
    for event in batch:
        console.print(describe(event), soft_wrap=True)
    if skipped:
        console.print(f"[dim]… {skipped} more events (see the trace with --trace FILE)[/]")
