"""The ``distlab`` command."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ._cluster import Placement, random_seed
from ._describe import (
    crash_diagnosis,
    describe,
    message_totals,
    network_diagnosis,
    node_table,
)
from ._errors import ConfigError, DistlabError
from ._faults import FaultState, LinkFaults
from ._labs import find_lab, survey_labs
from ._runs import RunOutcome, RunRequest, execute, first_difference
from ._trace import EVENT_KINDS, TraceEvent, read_trace_file
from ._version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
LOG_LINES_PER_BATCH = 200


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distlab",
        description="Learn distributed systems by building them: run a lab's cluster with "
        "your code, break its network, and watch it recover.",
    )
    parser.add_argument("--version", action="version", version=f"distlab {__version__}")
    parser.add_argument(
        "--labs",
        type=Path,
        metavar="DIR",
        help="the folder of labs to use (default: a course's labs/ found from the current "
        "folder up, else the labs that come with distlab)",
    )
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
        "Exits 0 when the scenario's own check passes (for every seed), 1 when it fails.",
    )
    _add_cluster_flags(
        run,
        sim_help="simulate: virtual time, no sockets, the same seed gives the same run, "
        "byte for byte",
    )
    run.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seed for the network's and nodes' randomness (default: random); "
        "with --seeds, the first seed of the sweep (default 1)",
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
    run.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="with --sim: run N seeds and report which failed, with a replay command for each",
    )
    run.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="K",
        help="with --seeds: worker processes to use (default 1)",
    )
    run.add_argument(
        "--check-determinism",
        action="store_true",
        help="with --sim: run the seed twice and report the first event where "
        "the runs differ, and any wall-clock or unseeded-random call",
    )

    grade = commands.add_parser(
        "grade",
        help="grade an implementation with the lab's tests: points, seeds, replays",
        description="Grade an implementation with the lab's graded tests, each in a separate "
        "process with a time budget and a memory limit. Prints a table and, last, "
        "'Points X/Y'. Exits 0 only on full marks.",
    )
    grade.add_argument("lab", metavar="LAB", help="lab number or slug, e.g. 0 or 00-ping")
    grade.add_argument(
        "--impl",
        type=Path,
        metavar="PATH",
        help="the Python file to grade (default: the lab's solution)",
    )
    grade.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="seeds per test (default: each test's own; a live test runs at most its own); the "
        "table shows the pass rate across them",
    )
    grade.add_argument("--seed", type=int, metavar="N", help="run only this seed")
    grade.add_argument(
        "--test", action="append", metavar="NAME", help="run only this test (repeatable)"
    )
    grade.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="K",
        help="worker processes to run at once (default 1)",
    )
    grade.add_argument(
        "-x",
        "--fail-fast",
        action="store_true",
        help="stop each test at its first failing seed (faster feedback while you work; the "
        "other seeds are reported not run)",
    )
    grade.add_argument(
        "--format",
        choices=("text", "json", "junit", "gradescope"),
        default="text",
        help="the format written to --output (default text)",
    )
    grade.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write the results to FILE in --format; always written, even "
        "when grading fails or is interrupted",
    )
    grade.add_argument(
        "--time-limit", type=float, metavar="SECONDS", help="override every test's time budget"
    )
    grade.add_argument(
        "--memory-limit",
        type=int,
        default=1024,
        metavar="MIB",
        help="memory limit of each worker process (default 1024 MiB)",
    )
    grade.add_argument(
        "--traces",
        type=Path,
        default=Path("grading-traces"),
        metavar="DIR",
        help="where failing seeds' traces are kept (default grading-traces/)",
    )
    grade.add_argument(
        "--keep-traces",
        type=_count_or_all,
        default=3,
        metavar="N",
        help="keep the traces of each test's first N failing seeds (default 3), or 'all'",
    )

    lab = commands.add_parser(
        "lab",
        help="open the TUI: watch a lab's cluster live and break it with a key",
        description="Open the terminal UI on a lab's cluster running your code: nodes, "
        "messages as they flow, the network; crash, restart, pause and isolate nodes with a "
        "key. Press ? in the app for every key.",
    )
    _add_cluster_flags(
        lab,
        sim_help="simulated network and clock (virtual time at wall speed)",
        default="processes",
    )
    lab.add_argument("--seed", type=int, metavar="N", help="seed (default: random)")

    handout = commands.add_parser(
        "handout",
        help="the student version of a lab's solution: marked blocks stubbed",
        description="Print (or write) the lab's solution with every '# SOLUTION: task' ... "
        "'# END SOLUTION' block replaced by a task comment and a NotImplementedError. With "
        "--check, also prove the handout imports, runs, and scores zero without breaking the "
        "grader.",
    )
    handout.add_argument("lab", metavar="LAB", help="lab number or slug")
    handout.add_argument(
        "--output", type=Path, metavar="FILE", help="write the handout to FILE (default: print it)"
    )
    handout.add_argument(
        "--check", action="store_true", help="grade the handout: it must import and score 0 cleanly"
    )

    new = commands.add_parser(
        "new",
        help="scaffold a new lab that passes distlab check as generated",
        description="Create labs/NN-SLUG (NN: the next free number) with every part a lab has: "
        "README (with the sections every lab has), lab.toml, solution.py with '# SOLUTION' "
        "blocks, the client, the demo, one graded test and one mutant. It passes "
        "'distlab check NN' as generated: change it one piece at a time.",
    )
    new.add_argument("slug", metavar="SLUG", help="lowercase words joined by '-', e.g. autoscale")
    new.add_argument("--title", help="the lab's title (default: from the slug)")
    new.add_argument(
        "--dir", type=Path, metavar="DIR", help="the labs folder (default: distlab's labs/)"
    )

    check = commands.add_parser(
        "check",
        help="prove a lab is ready: reference, mutants, handout, demo, determinism",
        description="Check everything a lab needs before it is handed out, and print a table: "
        "lab.toml loads; the reference passes every graded test on every seed; each mutant "
        "loses the test lab.toml aims it at; the handout scores 0 and every test fails "
        "cleanly; the demo passes with the reference in every placement, fails for at least "
        "half of the mutants, and replays exactly. Exit 0 only if every row holds.",
    )
    check.add_argument("lab", metavar="LAB", help="lab number or slug")
    check.add_argument(
        "--seeds", type=int, metavar="N", help="at most N seeds per test (default: each test's own)"
    )
    check.add_argument(
        "--parallel", type=int, default=2, metavar="K", help="grading workers at once (default 2)"
    )

    course = commands.add_parser(
        "course",
        help="build what students get: a course repository without the answer key",
        description="Build a course from some labs. 'build' writes a student repository: per "
        "lab its README, the handout (the solution with its marked blocks stubbed), the lab's "
        "own nodes and demo, and its visible tests; distlab as a wheel in vendor/; a GitHub "
        "Classroom workflow. No reference solution, mutant or hidden test is in it.",
    )
    course_commands = course.add_subparsers(dest="course_command", metavar="ACTION", required=True)
    build = course_commands.add_parser(
        "build",
        help="write a student repository for some labs",
        description="Write a student repository for the labs given into DIR (a new or empty "
        "folder). Students run 'uv run distlab lab N' and 'uv run distlab grade N' in it.",
    )
    build.add_argument(
        "--labs", dest="course_labs", required=True, metavar="N,M", help="the labs, e.g. 1,3"
    )
    build.add_argument("--output", type=Path, required=True, metavar="DIR", help="a new folder")
    gradescope = course_commands.add_parser(
        "gradescope",
        help="write a Gradescope autograder zip for one lab",
        description="Write a Gradescope autograder (.zip): setup.sh, run_autograder, the lab "
        "with every test (hidden ones too) and no solution or mutant, distlab as a wheel. "
        "Students submit the lab's file under its course name (e.g. sum.py for lab 1).",
    )
    gradescope.add_argument(
        "--labs", dest="course_labs", required=True, metavar="N", help="the lab, e.g. 1"
    )
    gradescope.add_argument(
        "--output", type=Path, required=True, metavar="ZIP", help="e.g. autograder.zip"
    )

    replay = commands.add_parser(
        "replay",
        help="print a recorded trace as a readable timeline",
        description="Print a trace written with --trace as a readable timeline, filtered by "
        "node, message type, event kind and time window.",
    )
    replay.add_argument("trace", metavar="FILE", type=Path, help="a JSONL trace file")
    replay.add_argument(
        "--node", action="append", metavar="NAME", help="only events about this node (repeatable)"
    )
    replay.add_argument(
        "--type",
        action="append",
        metavar="TYPE",
        dest="msg_type",
        help="only messages of this type (repeatable)",
    )
    replay.add_argument(
        "--kind",
        action="append",
        metavar="KIND",
        choices=EVENT_KINDS,
        help="only events of this kind (repeatable): " + ", ".join(EVENT_KINDS),
    )
    replay.add_argument(
        "--tui", action="store_true", help="open the trace in the TUI, with a time scrubber"
    )
    replay.add_argument(
        "--from",
        type=float,
        dest="start",
        metavar="SECONDS",
        help="only events at or after this time",
    )
    replay.add_argument(
        "--to", type=float, dest="end", metavar="SECONDS", help="only events at or before this time"
    )
    return parser


def _count_or_all(text: str) -> int | None:
    """``--keep-traces``: a number of seeds (1 or more), or ``all`` (None)."""
    if text == "all":
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of seeds (1 or more) or 'all', got {text!r}"
        )
    return count


def _add_cluster_flags(
    parser: argparse.ArgumentParser, *, sim_help: str, default: Placement = "inprocess"
) -> None:
    """LAB, --impl, and where the nodes run (--inprocess, --processes or --sim): shared by run
    and lab. ``distlab lab`` runs one process per node by default: its screen shares the
    supervisor's process, and nodes there would wait on its redraws."""
    parser.add_argument("lab", metavar="LAB", help="lab number or slug, e.g. 0 or 00-ping")
    parser.add_argument(
        "--impl",
        type=Path,
        metavar="PATH",
        help="Python file defining the lab's node classes (default: the lab's solution)",
    )
    where = parser.add_mutually_exclusive_group()
    parser.set_defaults(placement=default)
    where.add_argument(
        "--processes",
        action="store_const",
        const="processes",
        dest="placement",
        help="run each node in its own OS process"
        + (" (the default)" if default == "processes" else ""),
    )
    where.add_argument(
        "--inprocess",
        action="store_const",
        const="inprocess",
        dest="placement",
        help="run every node in this one process"
        + (" (the default)" if default == "inprocess" else ""),
    )
    where.add_argument("--sim", action="store_const", const="sim", dest="placement", help=sim_help)


def _placement(args: argparse.Namespace) -> Placement:
    placement: Placement = args.placement
    return placement


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run_cli(argv))


#: Columns of output that goes to a file or a CI log rather than a terminal (rich would use 80,
#: and wrap the grade table's test names).
PIPED_WIDTH = 120


def _width(stream: TextIO) -> int | None:
    """The terminal's width (None: rich finds it), else $COLUMNS, else PIPED_WIDTH."""
    if stream.isatty() or os.environ.get("COLUMNS"):
        return None
    return PIPED_WIDTH


def run_cli(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.labs is not None:
        os.environ["DISTLAB_LABS"] = str(args.labs.resolve())  # also for the grading workers
    console = Console(highlight=False, width=_width(sys.stdout))
    errors = Console(stderr=True, highlight=False, width=_width(sys.stderr))
    try:
        if args.command == "list":
            return _list(console, errors)
        if args.command == "replay":
            return _replay(args, console)
        if args.command == "grade":
            return _grade(args, console)
        if args.command == "lab":
            return _lab(args)
        if args.command == "check":
            return _check(args, console)
        if args.command == "new":
            from ._scaffold import new_lab

            folder = new_lab(args.slug, root=args.dir, title=args.title)
            number = int(folder.name.split("-", 1)[0])
            console.print(f"created {folder}: check it with: distlab check {number}")
            return EXIT_OK
        if args.command == "handout":
            return _handout(args, console)
        if args.command == "course":
            return _course(args, console)
        if args.placement == "sim":
            _fix_hash_seed(argv)
        return _run(args, console)
    except DistlabError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        errors.print("[bold yellow]interrupted[/]")
        return EXIT_INTERRUPTED


def _fix_hash_seed(argv: Sequence[str] | None) -> None:
    """Simulated runs need a fixed string-hash seed (set order): re-run ourselves with one."""
    if os.environ.get("PYTHONHASHSEED") == "0":
        return
    words = list(sys.argv[1:] if argv is None else argv)
    os.execve(
        sys.executable,
        [sys.executable, "-m", "distlab", *words],
        {**os.environ, "PYTHONHASHSEED": "0"},
    )


def _list(console: Console, errors: Console) -> int:
    labs, broken = survey_labs()
    width = max((len(lab.slug) for lab in labs), default=0)
    for lab in labs:
        console.print(f"{lab.number:>3}  {lab.slug:<{width}}  {lab.title}", soft_wrap=True)
    for folder, exc in broken:
        errors.print(f"[bold red]broken lab {folder.name}:[/] {escape(str(exc))}", soft_wrap=True)
    return EXIT_FAILED if broken else EXIT_OK


# -- distlab run ------------------------------------------------------------------------------


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


def replay_command(args: argparse.Namespace, lab_number: int, seed: int) -> str:
    """The one command that runs exactly this run again."""
    words = ["distlab", "run", str(lab_number)]
    if args.placement != "inprocess":
        words.append(f"--{args.placement}")
    words += ["--seed", str(seed)]
    if args.impl:
        words += ["--impl", str(args.impl)]
    for flag in ("delay", "jitter", "drop", "duplicate"):
        if getattr(args, flag):
            words += [f"--{flag}", f"{getattr(args, flag):g}"]
    if args.duration:
        words += ["--duration", f"{args.duration:g}"]
    return shlex.join(words)


def _check_run_flags(args: argparse.Namespace) -> None:
    if args.duration is not None and not args.duration > 0:
        raise DistlabError(f"--duration must be seconds > 0, got {args.duration}")
    if (args.seeds is not None or args.check_determinism) and args.placement != "sim":
        flag = "--seeds" if args.seeds is not None else "--check-determinism"
        raise DistlabError(f"{flag} needs --sim: only simulated runs are reproducible")
    if args.seeds is not None and args.seeds < 1:
        raise DistlabError(f"--seeds must be at least 1, got {args.seeds}")
    if args.parallel < 1:
        raise DistlabError(f"--parallel must be at least 1, got {args.parallel}")
    if args.seeds is not None and args.trace:
        raise DistlabError("--trace records one run: replay one seed with --seed N --trace FILE")
    if args.seeds is not None and args.check_determinism:
        raise DistlabError("use --check-determinism with one --seed, not with --seeds")


def _run(args: argparse.Namespace, console: Console) -> int:
    _check_run_flags(args)
    lab = find_lab(args.lab)
    faults = _faults_from(args)
    lab.cluster_spec(args.impl)  # load the implementation now: import errors come first
    placement = _placement(args)
    where = {
        "sim": "simulated (virtual time)",
        "processes": "one process per node",
        "inprocess": "all nodes in-process",
    }[placement]
    duration = args.duration or lab.duration

    def request(seed: int, trace: Path | None = None) -> RunRequest:
        return RunRequest(
            lab=lab.slug,
            seed=seed,
            placement=placement,
            faults=faults.to_dict(),
            duration=args.duration,
            impl=args.impl,
            trace_path=trace,
        )

    if args.seeds is not None:
        first = args.seed if args.seed is not None else 1
        console.print(
            f"[bold]distlab run {lab.slug}[/]: {args.seeds} seeds from {first} · "
            f"{where} · {faults.describe()} · up to {duration:g} s each",
            soft_wrap=True,
        )
        return _sweep(
            args, console, [request(s) for s in range(first, first + args.seeds)], lab.number
        )

    seed = args.seed if args.seed is not None else random_seed()
    console.print(
        f"[bold]distlab run {lab.slug}[/]: {lab.title}\n"
        f"seed {seed} · {where} · {faults.describe()} · up to {duration:g} s",
        soft_wrap=True,
    )
    if args.check_determinism:
        return _check_determinism(args, console, request(seed))
    log = None if args.quiet else (lambda batch: _print_log(console, batch))
    outcome = execute(request(seed, args.trace), log=log)
    return _summarise(args, console, outcome, lab.number)


def _print_log(console: Console, batch: list[TraceEvent]) -> None:
    shown = batch[:LOG_LINES_PER_BATCH]
    for event in shown:
        console.print(describe(event), soft_wrap=True)
    if len(batch) > len(shown):
        console.print(
            f"[dim]… {len(batch) - len(shown)} more events "
            "(see them all with --trace FILE and distlab replay)[/]"
        )


def _summarise(
    args: argparse.Namespace, console: Console, outcome: RunOutcome, lab_number: int
) -> int:
    events = outcome.events
    console.print()
    console.print(node_table(events, outcome.states))
    totals = message_totals(events)
    console.print(
        f"messages: {totals['send']} sent, {totals['deliver']} delivered, "
        f"{totals['drop']} dropped, {totals['lost']} lost, {totals['duplicate']} duplicated"
    )
    if args.trace:
        console.print(f"trace: {args.trace}  (read it with: distlab replay {args.trace})")
    if outcome.passed:
        console.print(f"[bold green]PASS[/] {escape(outcome.summary)}")
        return EXIT_OK
    console.print(f"[bold red]FAIL[/] {escape(outcome.summary)}")
    for why in (crash_diagnosis(events), network_diagnosis(events)):
        if why:
            console.print(f"[bold]why:[/] {escape(why)}", soft_wrap=True)
    console.print(
        f"replay this run: {replay_command(args, lab_number, outcome.seed)}", soft_wrap=True
    )
    return EXIT_FAILED


def _sweep_one(request: RunRequest) -> RunOutcome:
    outcome = execute(request)
    # Only the verdict crosses back to the parent process, not every event.
    return RunOutcome(
        outcome.seed,
        outcome.passed,
        outcome.summary,
        outcome.event_count,
        outcome.digest,
        outcome.states,
    )


#: failing seeds a sweep shows in its table (the shortest runs: the easiest to read)
SWEEP_ROWS = 10


def _sweep(
    args: argparse.Namespace, console: Console, requests: list[RunRequest], lab_number: int
) -> int:
    if args.parallel == 1:
        outcomes = [_sweep_one(r) for r in requests]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.parallel, mp_context=context) as pool:
            outcomes = list(pool.map(_sweep_one, requests))
    failed = sorted((o for o in outcomes if not o.passed), key=lambda o: (o.event_count, o.seed))
    passed = len(outcomes) - len(failed)
    console.print(
        f"{passed}/{len(outcomes)} seeds passed ({100 * passed / len(outcomes):.0f}% pass rate)"
    )
    if not failed:
        console.print("[bold green]PASS[/] every seed passed")
        return EXIT_OK
    table = Table(title="failing seeds, the shortest run first", title_justify="left")
    for column in ("seed", "events", "what went wrong", "replay"):
        table.add_column(column, overflow="fold")
    for o in failed[:SWEEP_ROWS]:
        table.add_row(
            str(o.seed),
            str(o.event_count),
            escape(o.summary),
            escape(replay_command(args, lab_number, o.seed)),
        )
    console.print(table)
    if len(failed) > SWEEP_ROWS:
        rest = sorted(o.seed for o in failed[SWEEP_ROWS:])
        listed = ", ".join(map(str, rest[: 2 * SWEEP_ROWS]))
        listed += ", …" if len(rest) > 2 * SWEEP_ROWS else ""
        console.print(f"and {len(rest)} more failing seeds: {listed}", soft_wrap=True)
    console.print(
        f"[bold red]FAIL[/] {len(failed)} of {len(outcomes)} seeds failed; "
        f"start with seed {failed[0].seed}: "
        f"{replay_command(args, lab_number, failed[0].seed)} --trace run.jsonl",
        soft_wrap=True,
    )
    return EXIT_FAILED


def _check_determinism(args: argparse.Namespace, console: Console, request: RunRequest) -> int:
    first = execute(request)
    second = execute(request)
    calls = list(dict.fromkeys(first.nondeterminism + second.nondeterminism))
    problems = 0
    if first.digest == second.digest:
        console.print(
            f"the two runs recorded the same trace ({first.event_count} events, "
            f"sha256 {first.digest[:16]}…)"
        )
    else:
        problems += 1
        index, a, b = first_difference(first.events, second.events)
        anchor = a or b
        assert anchor is not None
        who = f"node {anchor.node}" if anchor.node else "the run"
        console.print(
            f"[bold red]not deterministic:[/] {who} behaved differently at t={anchor.t:.3f} s "
            f"(event {index + 1}): did it read the wall clock or use unseeded randomness?",
            soft_wrap=True,
        )
        for label, event in (("first run: ", a), ("second run:", b)):
            text = describe(event) if event else "(the run had ended)"
            console.print(f"  {label} ", text, soft_wrap=True)
    for call in calls:
        problems += 1
        console.print(f"[bold red]not deterministic:[/] {escape(call)}", soft_wrap=True)
    if problems:
        console.print(
            "[bold red]FAIL[/] this run cannot be replayed exactly; see "
            "docs/determinism.md for what node code may use"
        )
        return EXIT_FAILED
    console.print("[bold green]PASS[/] the run is deterministic: the same seed replays it exactly")
    return EXIT_OK


# -- distlab replay ---------------------------------------------------------------------------


def _message_type(event: TraceEvent) -> str | None:
    body = event.get("body")
    if isinstance(body, dict):
        return str(body.get("type"))
    value = event.get("type")
    return value if isinstance(value, str) else None


def _replay(args: argparse.Namespace, console: Console) -> int:
    if args.start is not None and args.end is not None and args.start > args.end:
        raise DistlabError(
            f"--from {args.start:g} is after --to {args.end:g}: no event can be in between"
        )
    events, notes = read_trace_file(args.trace)
    if args.tui:
        from distlab.tui.replay import run_replay_app

        run_replay_app(args.trace)
        return EXIT_OK
    shown = 0
    for event in events:
        if args.node and not ({event.node, event.get("dest")} & set(args.node)):
            continue
        if args.msg_type and _message_type(event) not in args.msg_type:
            continue
        if args.kind and event.kind not in args.kind:
            continue
        if (args.start is not None and event.t < args.start) or (
            args.end is not None and event.t > args.end
        ):
            continue
        shown += 1
        console.print(describe(event), soft_wrap=True)
    console.print(f"[dim]{shown} of {len(events)} events shown[/]")
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    return EXIT_OK


# -- distlab grade ----------------------------------------------------------------------------


def _grade(args: argparse.Namespace, console: Console) -> int:
    from distlab.grading import GradeOptions, GradeReport, grade
    from distlab.grading._reports import print_report, write_report

    try:
        for flag, value, low in (
            ("--seeds", args.seeds, 1),
            ("--parallel", args.parallel, 1),
            ("--memory-limit", args.memory_limit, 64),
        ):
            if value is not None and value < low:
                raise DistlabError(f"{flag} must be at least {low}, got {value}")
        if args.time_limit is not None and not args.time_limit > 0:
            raise DistlabError(f"--time-limit must be seconds > 0, got {args.time_limit}")
        lab = find_lab(args.lab)
        options = GradeOptions(
            lab=lab,
            impl=args.impl,
            tests=tuple(args.test or ()),
            seeds=args.seeds,
            seed=args.seed,
            parallel=args.parallel,
            time_limit=args.time_limit,
            memory_mb=args.memory_limit,
            trace_dir=args.traces / lab.slug,
            keep_traces=args.keep_traces,
            fail_fast=args.fail_fast,
        )
        console.print(
            f"[bold]distlab grade {lab.slug}[/]: {args.impl or lab.solution}", soft_wrap=True
        )
        report = grade(
            options,
            progress=lambda t: console.print(
                f"  {t.name}: {t.outcome.replace('_', ' ')}", soft_wrap=True
            ),
        )
    except Exception as exc:
        # Fail closed: CI reads a results file that says why, not nothing. A DistlabError is
        # the user's (a bad option, no such test); anything else is a bug in the grader, whose
        # traceback follows. Either way no test is reported, so nothing scores.
        if args.output:
            why = str(exc)
            if not isinstance(exc, DistlabError):
                why = f"the grader itself failed (a bug in distlab): {type(exc).__name__}: {exc}"
            failed = GradeReport(
                lab=args.lab,
                impl=str(args.impl or ""),
                tests=[],
                seconds=0.0,
                versions={"distlab": __version__},
                error=why,
            )
            write_report(failed, args.format, args.output)
        raise
    except KeyboardInterrupt:  # before grade() could take over its own interruption
        report = GradeReport(
            lab=args.lab,
            impl=str(args.impl or ""),
            tests=[],
            seconds=0.0,
            versions={"distlab": __version__},
            interrupted=True,
            error="the grader was interrupted before grading began",
        )
    # Written here only, by this (the top) grader, after grade() returned: every process the
    # run started is dead by then, and write_report replaces the file atomically (a temporary
    # file in the same directory, then os.replace), so whatever a submission wrote there is gone.
    if args.output:
        write_report(report, args.format, args.output)
        console.print(f"results ({args.format}): {args.output}")
    print_report(report, console)  # the table, each failure in words, and last "Points X/Y"
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.full_marks else EXIT_FAILED


# -- distlab lab ------------------------------------------------------------------------------


def _lab(args: argparse.Namespace) -> int:
    lab = find_lab(args.lab)
    lab.cluster_spec(args.impl)  # import errors now, in one line, not inside the TUI
    placement = _placement(args)
    from distlab.tui.app import run_lab_app

    seed = args.seed if args.seed is not None else random_seed()
    run_lab_app(lab, impl=args.impl, placement=placement, seed=seed)
    return EXIT_OK


# -- distlab course ---------------------------------------------------------------------------


def _course(args: argparse.Namespace, console: Console) -> int:
    from ._course import build_course, build_gradescope, student_file_name

    keys = [key.strip() for key in args.course_labs.split(",") if key.strip()]
    labs = [find_lab(key) for key in keys]
    if args.course_command == "gradescope":
        if len(labs) != 1:
            raise ConfigError("a Gradescope autograder grades one lab: give --labs N")
        build_gradescope(labs[0], args.output)
        console.print(
            f"wrote {args.output}: upload it as the autograder; students submit "
            f"{student_file_name(labs[0])}"
        )
        return EXIT_OK
    written = build_course(labs, args.output)
    console.print(f"wrote {len(written)} files to {args.output}:")
    for lab in labs:
        console.print(f"  labs/{lab.path.name}/  (lab {lab.number}: {escape(lab.title)})")
    console.print(
        "  vendor/, pyproject.toml, README.md, .github/workflows/classroom.yml\n"
        f"try it: cd {args.output} && uv run distlab grade {labs[0].number}"
    )
    return EXIT_OK


# -- distlab handout --------------------------------------------------------------------------


def _handout(args: argparse.Namespace, console: Console) -> int:
    import tempfile

    from ._handout import count_blocks, stub_solution

    lab = find_lab(args.lab)
    source = lab.solution.read_text(encoding="utf-8")
    if count_blocks(source) == 0:
        raise DistlabError(f"{lab.solution} has no '# SOLUTION: task' blocks to stub")
    handout = stub_solution(source, name=str(lab.solution))
    if args.output:
        args.output.write_text(handout, encoding="utf-8")
        console.print(f"wrote {args.output} ({count_blocks(source)} stubbed blocks)")
    elif not args.check:
        print(handout, end="")
    if not args.check:
        return EXIT_OK
    from distlab.grading._lab_check import check_handout

    with tempfile.TemporaryDirectory(prefix="distlab-handout-") as tmp:
        row, report = check_handout(lab, Path(tmp))
    for test in report.tests if report is not None else []:
        console.print(f"  {test.name}: {test.outcome} ({test.score:g}/{test.points:g})")
    word = "[bold green]PASS[/]" if row.ok else "[bold red]FAIL[/]"
    console.print(f"{word} {row.check}: {escape(row.detail)}", soft_wrap=True)
    return EXIT_OK if row.ok else EXIT_FAILED


def _check(args: argparse.Namespace, console: Console) -> int:
    from rich.text import Text

    from distlab.grading._lab_check import CheckRow, check_lab

    if args.seeds is not None and args.seeds < 1:
        raise DistlabError(f"--seeds must be at least 1, got {args.seeds}")

    def say(row: CheckRow) -> None:
        mark = "[green]ok[/]  " if row.ok else "[bold red]FAIL[/]"
        console.print(f"  {mark} {escape(row.check)}", soft_wrap=True)

    try:
        lab = find_lab(args.lab)
    except ConfigError as exc:  # lab.toml itself: one row, in its own words
        rows = [CheckRow("lab.toml loads", False, str(exc))]
        say(rows[0])
    else:
        console.print(f"[bold]distlab check {lab.slug}[/]", soft_wrap=True)
        loads = CheckRow("lab.toml loads", True, f"{len(lab.mutants)} mutants")
        say(loads)
        rows = [loads, *check_lab(lab, parallel=args.parallel, seeds=args.seeds, progress=say)]
    table = Table(title="distlab check", title_justify="left")
    for column in ("", "check", "what was seen"):
        table.add_column(column, overflow="fold")
    for row in rows:
        mark = Text("ok", "green") if row.ok else Text("FAIL", "bold red")
        table.add_row(mark, Text(row.check), Text(row.detail))
    console.print(table)
    failed = [row for row in rows if not row.ok]
    if failed:
        console.print(f"[bold red]FAIL[/] {len(failed)} of {len(rows)} checks do not hold")
        return EXIT_FAILED
    console.print(f"[bold green]PASS[/] all {len(rows)} checks hold: the lab is ready")
    return EXIT_OK
