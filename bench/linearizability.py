"""(h) The linearizability checker's speed on generated register histories.

Five clients share one register, each with one request in flight at a time: a request takes
effect at a random instant between its invoke and its answer, on a real sequential register, so
every generated history is linearizable; the clients' requests overlap at random. Variants: some
requests time out (half of the timed-out writes took effect, half never did), and one read's
answer is corrupted (the history is then not linearizable: the checker must search every order
before it may say so).

Run it with ``uv run python -m bench.linearizability``; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import heapq
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from random import Random
from typing import Literal

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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    main()
