"""(h) The linearizability checker's speed on generated register histories.

Five clients share one register, each with one request in flight at a time: a request takes
effect at a random instant between its invoke and its answer, on a real sequential register, so
every generated history is linearizable; the clients' requests overlap at random. Variants: some
requests time out (half of the timed-out writes took effect, half never did), and one read's
answer is corrupted (the history is then not linearizable: the checker must search every order
before it may say so).

Run it with ``uv run python -m bench.linearizability``; the figures go to docs/benchmarks.md.

With ``--porcupine-etcd DIR`` it checks instead the Jepsen etcd histories that Porcupine (a
published checker, in Go) tests itself on, read from the ``etcd_NNN.log`` files in DIR (see
:mod:`bench.porcupine_histories`), and prints per file our verdict beside the one Porcupine's
tests expect, and our time; ``--porcupine-bench FILE`` adds Porcupine's own times from the
output of its ``go test -bench BenchmarkEtcdJepsen`` run on the same files.
"""

from __future__ import annotations

import argparse
import heapq
import os
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Literal

from bench.porcupine_histories import etcd_logs, expected, read_etcd_log
from distlab.grading import History, Linearizability, Op, RegisterModel, linearizability

OPERATIONS = 10_000
CLIENTS = 5


def register_history(
    seed: int,
    *,
    operations: int = OPERATIONS,
    clients: int = CLIENTS,
    values: int = 10,
    timeouts: float = 0.0,
    corrupt: Literal["other", "unwritten"] | None = None,
) -> History:
    """A history of ``clients`` clients on one register, linearizable unless ``corrupt``.

    Each request lasts 1-20 ms and takes effect at a random instant inside it; half are writes
    of a value in ``range(values)``. A request times out with probability ``timeouts``. With
    ``corrupt``, one read in the middle answers a value the register did not hold then (one it
    held earlier, or never held).
    """
    rng = Random(seed)
    free_at = [(rng.uniform(0.0, 0.005), c) for c in range(1, clients + 1)]
    heapq.heapify(free_at)
    # (start, end, effect time, client, f, value, timed out, takes effect)
    planned: list[tuple[float, float, float, int, str, int | None, bool, bool]] = []
    for _ in range(operations):
        start, client = heapq.heappop(free_at)
        end = start + rng.uniform(0.001, 0.02)
        effect = rng.uniform(start, end)
        is_write = rng.random() < 0.5
        timed_out = rng.random() < timeouts
        takes_effect = not (timed_out and is_write and rng.random() < 0.5)
        value = rng.randrange(values) if is_write else None
        f = "write" if is_write else "read"
        planned.append((start, end, effect, client, f, value, timed_out, takes_effect))
        heapq.heappush(free_at, (end + rng.uniform(0.0, 0.005), client))
    # run the register: each request at its effect time
    answers: dict[int, int | None] = {}
    held: int | None = None
    for i in sorted(range(len(planned)), key=lambda i: planned[i][2]):
        _, _, _, _, f, value, _, takes_effect = planned[i]
        if f == "write" and takes_effect:
            held = value
        elif f == "read":
            answers[i] = held
    if corrupt is not None:
        reads = [i for i, p in enumerate(planned) if p[4] == "read" and not p[6]]
        victim = reads[len(reads) // 2]
        other = [v for v in range(values) if v != answers[victim]]
        answers[victim] = rng.choice(other) if corrupt == "other" else values
    # the history, in time order: invokes and completions interleaved as clients saw them
    events: list[tuple[float, int, int]] = []  # (time, 0 invoke / 1 completion, request)
    for i, (start, end, *_rest) in enumerate(planned):
        events.append((start, 0, i))
        events.append((end, 1, i))
    events.sort()
    # Op by Op: History.complete looks its invoke up from the start, too slow for 10,000
    ops: list[Op] = []
    for t, completion, i in events:
        _, _, _, client, f, value, timed_out, _ = planned[i]
        process = f"client-{client}"
        if not completion:
            asked = {"value": value} if f == "write" else {}
            ops.append(Op(i + 1, process, "invoke", f, asked, t))
        elif timed_out:
            ops.append(Op(i + 1, process, "timeout", f, None, t))
        else:
            answer = {"value": answers[i]} if f == "read" else {}
            ops.append(Op(i + 1, process, "ok", f, answer, t))
    history = History(ops, len(planned))
    return history


@dataclass(frozen=True)
class Timing:
    name: str
    result: Linearizability
    seconds: list[float]

    def row(self) -> str:
        median = statistics.median(self.seconds)
        return (
            f"{self.name:<38} {self.result.operations:>6} {self.result.verdict:<17} "
            f"{self.result.steps:>9,} {median * 1000:>9.1f} {max(self.seconds) * 1000:>9.1f}"
        )


def time_check(name: str, history: History, *, reps: int, max_steps: int) -> Timing:
    seconds = []
    result = None
    for _ in range(reps):
        began = time.perf_counter()
        result = linearizability(history, RegisterModel(), max_steps=max_steps)
        seconds.append(time.perf_counter() - began)
    assert result is not None
    return Timing(name, result, seconds)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.linearizability", description=__doc__)
    parser.add_argument("--operations", type=int, default=OPERATIONS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--reps", type=int, default=5, help="checks per history (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument(
        "--porcupine-etcd",
        type=Path,
        metavar="DIR",
        help="check the Jepsen etcd_NNN.log histories in DIR (Porcupine's test data) instead",
    )
    parser.add_argument(
        "--porcupine-bench",
        type=Path,
        metavar="FILE",
        help="with --porcupine-etcd: Porcupine's `go test -bench BenchmarkEtcdJepsen` output",
    )
    args = parser.parse_args(argv)
    if args.porcupine_etcd is not None:
        porcupine_etcd(args.porcupine_etcd, args.porcupine_bench, reps=args.reps)
        return
    size = {"operations": args.operations, "clients": args.clients}
    cases = [
        ("linearizable", register_history(args.seed, **size)),
        ("1% timeouts", register_history(args.seed, timeouts=0.01, **size)),
        ("5% timeouts", register_history(args.seed, timeouts=0.05, **size)),
        ("1,000 values (few repeats)", register_history(args.seed, values=1000, **size)),
        (
            "a read of a value never written",
            register_history(args.seed, corrupt="unwritten", **size),
        ),
        (
            "the same, 1% timeouts",
            register_history(args.seed, corrupt="unwritten", timeouts=0.01, **size),
        ),
        (
            "the same, 1% timeouts, 1/5 of the ops",
            register_history(
                args.seed,
                corrupt="unwritten",
                timeouts=0.01,
                operations=args.operations // 5,
                clients=args.clients,
            ),
        ),
    ]
    print(
        f"{args.operations} operations, {args.clients} clients, one register, seed {args.seed}, "
        f"max_steps {args.max_steps:,}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'history':<34} {'ops':>6} {'verdict':<17} {'steps':>9} {'median ms':>9} {'max ms':>9}")
    for name, history in cases:
        timing = time_check(name, history, reps=args.reps, max_steps=args.max_steps)
        print(timing.row(), flush=True)


def _verdict(linearizable: bool | None) -> str:
    return "?" if linearizable is None else "linearizable" if linearizable else "not linearizable"


def porcupine_times(path: Path) -> dict[int, float]:
    """Seconds per check of each etcd file, from ``go test -bench`` output
    (``BenchmarkEtcdJepsen002   100   360853475 ns/op``)."""
    found = re.findall(
        r"^BenchmarkEtcdJepsen(\d+)\S*\s+\d+\s+([\d.]+) ns/op", path.read_text(), re.M
    )
    return {int(number): float(ns) / 1e9 for number, ns in found}


def porcupine_etcd(directory: Path, bench: Path | None, *, reps: int) -> None:
    """Our checker on Porcupine's Jepsen etcd histories: verdicts against its tests', times."""
    logs = etcd_logs(directory)
    if not logs:
        sys.exit(f"no etcd_NNN.log files in {directory}")
    theirs = porcupine_times(bench) if bench is not None else {}
    print(
        f"{len(logs)} Jepsen etcd histories from {directory}, RegisterModel, {reps} checks each, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'file':<13} {'reqs':>4} {'checked':>7} {'Porcupine expects':<17} {'ours':<17} "
        f"{'agree':<5} {'steps':>6} {'median ms':>9} {'fail=no effect':<17}"
        + (f" {'Porcupine ms':>12}" if theirs else "")
    )
    agree = 0
    ours_total: list[float] = []
    both: list[tuple[float, float]] = []
    for number, path in logs:
        history = read_etcd_log(path)
        timing = time_check(path.name, history, reps=reps, max_steps=1_000_000)
        result = timing.result
        ours = None if result.unknown else result.ok
        wanted = expected(number)
        same = ours is not None and ours == wanted
        agree += same
        # a refused cas read as Knossos reads a fail: it took no effect
        weaker = linearizability(read_etcd_log(path, fail_cas="no effect"), RegisterModel())
        median = statistics.median(timing.seconds)
        ours_total.append(median)
        line = (
            f"{path.name:<13} {sum(op.kind == 'invoke' for op in history.ops):>4} "
            f"{result.operations:>7} {_verdict(wanted):<17} {result.verdict:<17} "
            f"{'yes' if same else 'NO':<5} {result.steps:>6,} {median * 1000:>9.2f} "
            f"{weaker.verdict:<17}"
        )
        if number in theirs:
            line += f" {theirs[number] * 1000:>12.2f}"
            both.append((median, theirs[number]))
        print(line, flush=True)
    mid, top, total = (f(ours_total) * 1000 for f in (statistics.median, max, sum))
    print(
        f"verdicts agree on {agree} of {len(logs)}; ours: median {mid:.2f} ms, "
        f"max {top:.1f} ms, all {total:.0f} ms"
    )
    if both:
        mine = [m for m, _ in both]
        other = [p for _, p in both]
        print(
            f"Porcupine on the same {len(both)}: median {statistics.median(other) * 1000:.2f} ms, "
            f"max {max(other) * 1000:.1f} ms, all {sum(other) * 1000:.0f} ms; ours faster on "
            f"{sum(m < p for m, p in both)} (ours all {sum(mine) * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    main()
