"""distlab benchmark: the network layer against bare trio, placements, and a 50-node cluster.

Run it from the project root::

    uv run python -m bench.run                 # the whole benchmark (about 1.5 minutes)
    uv run python -m bench.run --profile       # cProfile of the in-process ping-pong

What it measures (see docs/benchmarks.md for the method and the figures):

(a)  two nodes, in-process placement, no faults: a client doing sequential
     ``await self.rpc("server", {"type": "ping"}, timeout=5)``, the server replying; against two
     bare trio tasks over loopback TCP doing the same ping-pong with the same framing (4-byte
     big-endian length + stdlib-json envelope), in the same process. A second bare baseline
     has an rpc-shaped client (requester task + writer task + reader task, like distlab's).
(a') the same, pipelined: 64 rpcs in flight (64 looping tasks), distlab and bare.
(b)  the same two-node ping-pong in the "processes" placement (one OS process per node).
(c)  50 nodes in one process, all-to-all, each node sending to its 49 peers every interval;
     delivered messages/s, lost messages, and the peak RSS of that process (run in a fresh
     child process so that its RSS is its own).

Every repetition is a fresh cluster (or a fresh pair of bare tasks) with its own warm-up; the
variants are interleaved round by round, and each figure is the median over the rounds. Every
loop is bounded in time and in count; the script ends by itself.

The node classes are at module level because the "processes" placement imports them by file
path and qualified name in each node process; importing this file must therefore not run
anything (everything runs under ``if __name__ == "__main__"``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import trio

import distlab
from bench.sim import SimResult
from bench.sim import measure as measure_sim
from bench.sim import report as report_sim
from distlab import ClusterSpec, Message, Node, NodeSpec, RPCTimeoutError, handler, open_cluster
from distlab._cluster import Placement

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GOAL_RATIO = 0.5
PIPELINE_DEPTH = 64
TABLE_A_TITLE = "(a), (a'), (b): two-node ping-pong, median"
ALLPAIRS_NODES = 50
#: Upper bound on the round trips one measurement may make (the time bound is the real one).
MAX_ROUND_TRIPS = 5_000_000
RPC_TIMEOUT = 5.0


# -- statistics ------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0 if empty)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class PingPongResult:
    """One measurement window of a ping-pong run."""

    round_trips: int
    seconds: float
    p50_us: float
    p99_us: float
    timeouts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rts_per_s(self) -> float:
        return self.round_trips / self.seconds if self.seconds > 0 else 0.0

    @property
    def msgs_per_s(self) -> float:
        """Messages carried per second: a ping and a pong per round trip."""
        return 2 * self.rts_per_s


def summarize(latencies: list[float], seconds: float, timeouts: int) -> PingPongResult:
    latencies.sort()
    return PingPongResult(
        round_trips=len(latencies),
        seconds=seconds,
        p50_us=percentile(latencies, 0.50) * 1e6,
        p99_us=percentile(latencies, 0.99) * 1e6,
        timeouts=timeouts,
    )


class Window:
    """Warm-up, then one measurement window; workers record only the round trips that end in it.

    Shared by the bare baseline and the benchmark nodes so that both are measured the same way.
    """

    def __init__(self) -> None:
        self.measuring = False
        self.stopped = False
        self.latencies: list[float] = []
        self.timeouts = 0
        self.started = 0.0
        self.ended = 0.0
        self.total = 0

    def record(self, latency: float) -> None:
        self.total += 1
        if self.measuring:
            self.latencies.append(latency)

    @property
    def keep_going(self) -> bool:
        return not self.stopped and self.total < MAX_ROUND_TRIPS

    async def run(
        self, warmup: float, duration: float, sleep: Callable[[float], Awaitable[None]]
    ) -> PingPongResult:
        await sleep(warmup)
        self.started = time.perf_counter()
        self.measuring = True
        await sleep(duration)
        self.measuring = False
        self.ended = time.perf_counter()
        self.stopped = True
        return summarize(self.latencies, self.ended - self.started, self.timeouts)


# -- the benchmark's nodes (module level: the processes placement imports them) ---------------


class BenchServer(Node):
    """Answers every ping with a pong, and does nothing else."""

    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        self.reply(msg, {"type": "pong"})


class BenchClient(Node):
    """Pings the server with ``config["concurrency"]`` looping rpc tasks, measures, reports.

    The result is published with ``status(done=True, ...)`` so that the supervisor can read it
    in either placement. ``time.perf_counter`` is used for measurement only.
    """

    def __init__(self) -> None:
        super().__init__()
        self.window = Window()
        self.active = 0

    async def on_start(self) -> None:
        self.spawn(self.bench)

    async def worker(self) -> None:
        window = self.window
        self.active += 1
        try:
            while window.keep_going:
                start = time.perf_counter()
                try:
                    await self.rpc("server", {"type": "ping"}, timeout=RPC_TIMEOUT)
                except RPCTimeoutError:
                    window.timeouts += 1
                    continue
                window.record(time.perf_counter() - start)
        finally:
            self.active -= 1

    async def bench(self) -> None:
        for _ in range(int(self.config["concurrency"])):
            self.spawn(self.worker)
        result = await self.window.run(
            float(self.config["warmup"]), float(self.config["duration"]), self.sleep
        )
        result.extra["all_round_trips"] = self.window.total
        # Let the rpcs still in flight finish, so that the run ends with nothing in flight.
        for _ in range(int((RPC_TIMEOUT + 1) / 0.01)):
            if not self.active:
                break
            await self.sleep(0.01)
        self.status(done=True, result=asdict(result))


class AllPairs(Node):
    """Every ``config["interval"]`` seconds, sends a small message to every other node.

    Stops sending at cluster time ``config["stop_at"]``; counts what it sends and receives and
    publishes the counts every 0.25 s.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.received = 0
        self.peers: list[str] = []

    async def on_start(self) -> None:
        self.peers = [n for n in self.node_ids if n != self.id]
        self.every(float(self.config["interval"]), self.tick)
        self.every(0.25, self.report)

    async def tick(self) -> None:
        if self.now() >= float(self.config["stop_at"]):
            return
        for peer in self.peers:
            self.send(peer, {"type": "hi"})
        self.sent += len(self.peers)

    async def report(self) -> None:
        self.status(sent=self.sent, received=self.received)

    @handler("hi")
    async def on_hi(self, msg: Message) -> None:
        self.received += 1


# -- the bare trio baseline -----------------------------------------------------------------

_HEADER = struct.Struct(">I")


def bare_frame(envelope: dict[str, Any]) -> bytes:
    payload = json.dumps(envelope, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload)) + payload


class BareDecoder:
    """The same 4-byte big-endian length framing as distlab, without the size limit checks."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buffer
        buf += data
        frames: list[bytes] = []
        start = 0
        while len(buf) - start >= 4:
            (size,) = _HEADER.unpack_from(buf, start)
            end = start + 4 + size
            if len(buf) < end:
                break
            frames.append(bytes(buf[start + 4 : end]))
            start = end
        del buf[:start]
        return frames


async def bare_server(stream: trio.SocketStream) -> None:
    """Answers each ping frame with a pong frame; the replies to one read go in one write."""
    decoder = BareDecoder()
    next_id = 0
    async with stream:
        while data := await stream.receive_some(65536):
            replies = []
            for payload in decoder.feed(data):
                msg = json.loads(payload)
                next_id += 1
                replies.append(
                    bare_frame(
                        {
                            "src": "server",
                            "dest": msg["src"],
                            "body": {
                                "type": "pong",
                                "msg_id": next_id,
                                "in_reply_to": msg["body"]["msg_id"],
                            },
                        }
                    )
                )
            try:
                await stream.send_all(b"".join(replies))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return


class BareClient:
    """One connection; ``concurrency`` tasks each doing sequential request/response over it.

    Like a distlab rpc: a request gets a fresh msg_id and an event; a reader task matches replies
    by ``in_reply_to``; a writer task writes whatever requests are queued in one batch.
    """

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.window = Window()
        self._next_id = 0
        self._pending: dict[int, trio.Event] = {}
        self._outgoing: list[bytes] = []
        self._wakeup = trio.Event()

    async def request(self) -> None:
        self._next_id += 1
        msg_id = self._next_id
        done = self._pending[msg_id] = trio.Event()
        self._outgoing.append(
            bare_frame(
                {"src": "client", "dest": "server", "body": {"type": "ping", "msg_id": msg_id}}
            )
        )
        self._wakeup.set()
        await done.wait()

    async def writer(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            data, self._outgoing = b"".join(self._outgoing), []
            await self.stream.send_all(data)

    async def reader(self) -> None:
        decoder = BareDecoder()
        while data := await self.stream.receive_some(65536):
            for payload in decoder.feed(data):
                msg = json.loads(payload)
                done = self._pending.pop(msg["body"]["in_reply_to"], None)
                if done is not None:
                    done.set()

    async def worker(self) -> None:
        window = self.window
        while window.keep_going:
            start = time.perf_counter()
            await self.request()
            window.record(time.perf_counter() - start)


async def bare_direct_client(stream: trio.SocketStream, window: Window) -> None:
    """The plainest client: write a ping, read until its pong, repeat; no helper tasks."""
    decoder = BareDecoder()
    msg_id = 0
    while window.keep_going:
        msg_id += 1
        start = time.perf_counter()
        await stream.send_all(
            bare_frame(
                {"src": "client", "dest": "server", "body": {"type": "ping", "msg_id": msg_id}}
            )
        )
        replies: list[bytes] = []
        while not replies:
            data = await stream.receive_some(65536)
            if not data:
                return
            replies = decoder.feed(data)
        if json.loads(replies[0])["body"]["in_reply_to"] != msg_id:
            raise RuntimeError("bare baseline: a pong for the wrong ping")
        window.record(time.perf_counter() - start)


async def bare_pingpong(
    concurrency: int, warmup: float, duration: float, *, direct: bool = False
) -> PingPongResult:
    """Bare trio ping-pong over loopback TCP, same framing and envelope as distlab.

    ``direct``: two tasks only (client and server), sequential. Otherwise the client is
    rpc-shaped like distlab's (``concurrency`` requester tasks, a writer and a reader task).
    """
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    with trio.fail_after(warmup + duration + 30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, bare_server, listeners)
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            if direct:
                window = Window()
                nursery.start_soon(bare_direct_client, stream, window)
            else:
                client = BareClient(stream)
                window = client.window
                nursery.start_soon(client.writer)
                nursery.start_soon(client.reader)
                for _ in range(concurrency):
                    nursery.start_soon(client.worker)
            result = await window.run(warmup, duration, trio.sleep)
            result.extra["all_round_trips"] = window.total
            # Workers stop after their current round trip; every pong is back within a moment.
            await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        await stream.aclose()
        for listener in listeners:
            await listener.aclose()
    return result


# -- distlab ping-pong ----------------------------------------------------------------------


async def distlab_pingpong(
    placement: Placement,
    concurrency: int,
    warmup: float,
    duration: float,
    seed: int,
) -> PingPongResult:
    spec = ClusterSpec(
        nodes=(
            NodeSpec("server", "server", BenchServer),
            NodeSpec("client", "client", BenchClient),
        ),
        config={"concurrency": concurrency, "warmup": warmup, "duration": duration},
    )
    with trio.fail_after(warmup + duration + 60):
        async with open_cluster(spec, seed=seed, placement=placement, keep_events=False) as cluster:
            status = await cluster.wait_for_status("client", lambda s: s.get("done") is True)
            counts = dict(cluster.trace.counts)
    result = PingPongResult(**status["result"])
    result.extra |= {
        "drop": counts.get("drop", 0),
        "lost": counts.get("lost", 0),
        "crash": counts.get("crash", 0),
    }
    return result


# -- (c) 50 nodes all-to-all (run in a fresh process) ----------------------------------------


def ru_maxrss_mib() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (it is in KiB on Linux).

    On Linux it survives ``exec``: a child started from a bigger parent starts with the parent's
    high-water mark, so it can only be trusted once this process has grown past its parent.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mib() -> float:
    """Peak resident set size of this process image: ``VmHWM`` (Linux), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return ru_maxrss_mib()


async def allpairs(
    nodes: int, interval: float, warmup: float, duration: float, seed: int
) -> dict[str, Any]:
    rss_before = peak_rss_mib()
    start_by = 2.0  # cluster time by which every node must be up
    window_start = start_by + warmup
    stop_at = window_start + duration
    drain = 2.0
    spec = ClusterSpec(
        nodes=tuple(NodeSpec(f"n{i:02d}", "peer", AllPairs) for i in range(nodes)),
        config={"interval": interval, "stop_at": stop_at},
    )
    names = [f"n{i:02d}" for i in range(nodes)]
    with trio.fail_after(stop_at + drain + 60):
        async with open_cluster(spec, seed=seed, keep_events=False) as cluster:
            up_at = cluster.now()
            if up_at > start_by:
                raise RuntimeError(f"{nodes} nodes took {up_at:.2f} s to start (> {start_by} s)")
            counts = cluster.trace.counts
            await trio.sleep(window_start - cluster.now())
            t0, sent0, delivered0 = time.perf_counter(), counts["send"], counts["deliver"]
            await trio.sleep(stop_at - cluster.now())
            t1, sent1, delivered1 = time.perf_counter(), counts["send"], counts["deliver"]
            # Stop sending, then let everything in flight arrive and every node report.
            await trio.sleep(drain)
            final = dict(counts)
            received = sum(int(cluster.status_of(n).get("received", 0)) for n in names)
            sent_by_nodes = sum(int(cluster.status_of(n).get("sent", 0)) for n in names)
    seconds = t1 - t0
    return {
        "nodes": nodes,
        "interval": interval,
        "offered_per_s": nodes * (nodes - 1) / interval,
        "sent_per_s": (sent1 - sent0) / seconds,
        "delivered_per_s": (delivered1 - delivered0) / seconds,
        "window_s": seconds,
        "sent": final.get("send", 0),
        "sent_by_nodes": sent_by_nodes,
        "delivered": final.get("deliver", 0),
        "received": received,
        "drop": final.get("drop", 0),
        "lost": final.get("lost", 0),
        "crash": final.get("crash", 0),
        "rss_before_mib": rss_before,
        "rss_peak_mib": peak_rss_mib(),
        "ru_maxrss_mib": ru_maxrss_mib(),
    }


def run_allpairs_child(interval: float, args: argparse.Namespace) -> dict[str, Any]:
    """Run (c) in a fresh Python process, so that its peak RSS is that run's alone."""
    cmd = [
        sys.executable,
        "-m",
        "bench.run",
        "--part",
        "allpairs",
        "--interval",
        str(interval),
        "--allpairs-duration",
        str(args.allpairs_duration),
        "--seed",
        str(args.seed),
    ]
    done = subprocess.run(
        cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the all-pairs run failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the harness ----------------------------------------------------------------------------


SEQ_BARE = "bare trio, sequential (2 tasks)"
SEQ_BARE_RPC = "bare trio, sequential (rpc-shaped client)"
SEQ_INPROC = "distlab in-process, sequential"
SEQ_PROCS = "distlab processes, sequential"
PIPE_BARE = f"bare trio, pipelined x{PIPELINE_DEPTH}"
PIPE_INPROC = f"distlab in-process, pipelined x{PIPELINE_DEPTH}"
PIPE_PROCS = f"distlab processes, pipelined x{PIPELINE_DEPTH}"

VARIANTS: tuple[tuple[str, str, int], ...] = (
    # (name, kind, concurrency)
    (SEQ_BARE, "bare-direct", 1),
    (SEQ_BARE_RPC, "bare", 1),
    (SEQ_INPROC, "inprocess", 1),
    (SEQ_PROCS, "processes", 1),
    (PIPE_BARE, "bare", PIPELINE_DEPTH),
    (PIPE_INPROC, "inprocess", PIPELINE_DEPTH),
    (PIPE_PROCS, "processes", PIPELINE_DEPTH),
)


async def measure(
    kind: str, concurrency: int, warmup: float, duration: float, seed: int
) -> PingPongResult:
    if kind in ("bare", "bare-direct"):
        return await bare_pingpong(concurrency, warmup, duration, direct=kind == "bare-direct")
    placement: Placement = "processes" if kind == "processes" else "inprocess"
    return await distlab_pingpong(placement, concurrency, warmup, duration, seed)


async def run_pingpongs(args: argparse.Namespace) -> dict[str, list[PingPongResult]]:
    results: dict[str, list[PingPongResult]] = {name: [] for name, _, _ in VARIANTS}
    for rep in range(args.reps):
        for name, kind, concurrency in VARIANTS:
            result = await measure(kind, concurrency, args.warmup, args.duration, args.seed + rep)
            results[name].append(result)
            print(
                f"  round {rep + 1}/{args.reps}  {name:<42} {result.rts_per_s:>9,.0f} rt/s  "
                f"p50 {result.p50_us:>7,.0f} us  p99 {result.p99_us:>7,.0f} us"
                + (f"  timeouts {result.timeouts}" if result.timeouts else ""),
                flush=True,
            )
    return results


def median_of(results: list[PingPongResult], key: Callable[[PingPongResult], float]) -> float:
    return statistics.median(key(r) for r in results)


def machine() -> str:
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs (nproc "
        f"{len(os.sched_getaffinity(0))}), Python {platform.python_version()}, "
        f"trio {trio.__version__}, distlab {distlab.__version__}"
    )


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    return f"{os.getloadavg()[0]:.2f}"


def print_report(
    pingpong: dict[str, list[PingPongResult]],
    pairs: list[dict[str, Any]],
    sim: list[SimResult],
    seconds: float,
    load_before: str,
) -> None:
    print()
    print(f"Machine: {machine()}")
    print(f"1-min load average: {load_before} before the run, {load_average()} after")
    print()
    header = (
        f"{TABLE_A_TITLE:<50}"
        f"{'rt/s':>10}{'msgs/s':>10}{'p50 us':>9}{'p99 us':>9}{'spread rt/s':>20}"
    )
    print(header)
    print("-" * len(header))
    medians: dict[str, float] = {}
    for name, _, _ in VARIANTS:
        runs = pingpong[name]
        rts = median_of(runs, lambda r: r.rts_per_s)
        medians[name] = rts
        low, high = min(r.rts_per_s for r in runs), max(r.rts_per_s for r in runs)
        print(
            f"{name:<50}{rts:>10,.0f}{2 * rts:>10,.0f}"
            f"{median_of(runs, lambda r: r.p50_us):>9,.0f}"
            f"{median_of(runs, lambda r: r.p99_us):>9,.0f}"
            f"{f'{low:,.0f}-{high:,.0f}':>20}"
        )
    problems = [
        f"{name}: {sum(r.timeouts for r in runs)} rpc timeouts, "
        f"{sum(r.extra.get('drop', 0) + r.extra.get('lost', 0) for r in runs)} dropped/lost"
        for name, runs in pingpong.items()
        if any(r.timeouts or r.extra.get("drop") or r.extra.get("lost") for r in runs)
    ]
    for problem in problems:
        print(f"  ! {problem}")
    print()
    seq = medians[SEQ_INPROC] / medians[SEQ_BARE]
    seq_rpc = medians[SEQ_INPROC] / medians[SEQ_BARE_RPC]
    pipe = medians[PIPE_INPROC] / medians[PIPE_BARE]
    procs = medians[SEQ_PROCS] / medians[SEQ_INPROC]
    procs_pipe = medians[PIPE_PROCS] / medians[PIPE_INPROC]

    def verdict(ratio: float) -> str:
        return f"goal >= {GOAL_RATIO}: {'MET' if ratio >= GOAL_RATIO else 'NOT MET'}"

    for label, ratio in (
        ("sequential rt/s, vs the 2-task bare", seq),
        ("sequential rt/s, vs the rpc-shaped bare", seq_rpc),
        (f"pipelined x{PIPELINE_DEPTH} msgs/s, vs bare pipelined", pipe),
    ):
        print(f"distlab/bare, {label:<42} {ratio:.3f}  ({verdict(ratio)})")
    print(f"processes/in-process, sequential: {procs:.2f}; pipelined: {procs_pipe:.2f}")
    print()
    header = (
        f"{'(c) all-to-all, one process':<30}{'offered/s':>11}{'sent/s':>10}"
        f"{'delivered/s':>13}{'lost':>7}{'unhandled':>11}{'peak RSS MiB':>17}"
    )
    print(header)
    print("-" * len(header))
    for p in pairs:
        lost = p["sent"] - p["delivered"]
        unhandled = p["delivered"] - p["received"]
        label = f"{p['nodes']} nodes, every {p['interval']:g} s"
        rss = f"{p['rss_before_mib']:.0f} -> {p['rss_peak_mib']:.0f}"
        print(
            f"{label:<30}{p['offered_per_s']:>11,.0f}{p['sent_per_s']:>10,.0f}"
            f"{p['delivered_per_s']:>13,.0f}{lost:>7}{unhandled:>11}{rss:>17}"
        )
        print(
            f"  {p['sent']:,} sent (nodes counted {p['sent_by_nodes']:,}), "
            f"{p['delivered']:,} delivered, {p['received']:,} handled, "
            f"drop {p['drop']}, lost {p['lost']}, crashes {p['crash']}; "
            f"window {p['window_s']:.2f} s; ru_maxrss {p['ru_maxrss_mib']:.0f} MiB"
        )
    print()
    report_sim(sim)
    print()
    print(f"Total benchmark time: {seconds:.0f} s")


#: What a round trip costs, counted by cProfile: (label, file suffix, function name).
PER_ROUND_TRIP: tuple[tuple[str, str, str], ...] = (
    ("trio scheduler passes", "trio/_core/_run.py", "unrolled_run"),
    ("task wake-ups (reschedule)", "trio/_core/_run.py", "reschedule"),
    ("tasks spawned", "trio/_core/_run.py", "spawn_impl"),
    ("cancel scopes entered", "trio/_core/_run.py", "__enter__"),
    ("socket send() calls", "~", "<method 'send' of '_socket.socket' objects>"),
    ("socket recv() calls", "~", "<method 'recv' of '_socket.socket' objects>"),
    ("epoll waits", "~", "<method 'poll' of 'select.epoll' objects>"),
    ("json.dumps", "json/__init__.py", "dumps"),
    ("json.loads", "json/__init__.py", "loads"),
    ("trace events recorded", "distlab/_trace.py", "record"),
)


def _profiled(
    fn: Callable[[], Awaitable[PingPongResult]],
) -> tuple[PingPongResult, dict[Any, Any]]:
    profiler = cProfile.Profile()
    profiler.enable()
    result = trio.run(fn)
    profiler.disable()
    entries: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return result, entries


def _calls(entries: dict[Any, Any], suffix: str, name: str) -> int:
    return sum(
        v[0] for (filename, _, fn), v in entries.items() if fn == name and filename.endswith(suffix)
    )


def _where(filename: str) -> str:
    where = filename.replace(str(PROJECT_ROOT) + "/", "")
    return where.split("site-packages/")[-1].split("lib/python3.11/")[-1]


def profile_pingpong(args: argparse.Namespace) -> None:
    """cProfile the in-process ping-pong and the bare baseline; print where the time goes.

    cProfile counts each resumption of a coroutine as a call, and slows everything several
    times over: read the shares and the per-round-trip counts, not the absolute rates.
    """
    depth = args.profile_concurrency
    seconds = args.duration

    async def bare() -> PingPongResult:
        return await bare_pingpong(depth, 0.5, seconds, direct=depth == 1)

    async def inprocess() -> PingPongResult:
        return await distlab_pingpong("inprocess", depth, 0.5, seconds, args.seed)

    bare_result, bare_entries = _profiled(bare)
    result, entries = _profiled(inprocess)
    total = sum(v[2] for v in entries.values())
    rows = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)
    print(
        f"profiled (concurrency {depth}): distlab {result.rts_per_s:,.0f} rt/s, "
        f"bare {bare_result.rts_per_s:,.0f} rt/s (both slowed down by cProfile)"
    )
    print(f"\nPer round trip (whole run incl. warm-up){'distlab':>20}{'bare':>10}")
    rts = max(1, int(result.extra.get("all_round_trips", 0)))
    bare_rts = max(1, int(bare_result.extra.get("all_round_trips", 0)))
    for label, suffix, name in PER_ROUND_TRIP:
        print(
            f"  {label:<38}{_calls(entries, suffix, name) / rts:>20.2f}"
            f"{_calls(bare_entries, suffix, name) / bare_rts:>10.2f}"
        )
    print(f"\ndistlab, top functions by own time (total {total:.2f} s):")
    print(f"{'own %':>7}{'cum %':>7}{'calls':>10}  function")
    for (filename, line, fn), (_, ncalls, tottime, cumtime, _) in rows[: args.profile_top]:
        print(
            f"{100 * tottime / total:>6.1f}%{100 * cumtime / total:>6.1f}%{ncalls:>10}  "
            f"{_where(filename)}:{line}({fn})"
        )
    print("\nInside distlab, by cumulative time (own >= 0.3% or cum >= 5%):")
    print(f"{'own %':>7}{'cum %':>7}{'calls':>10}  function")
    for (filename, line, fn), (_, ncalls, tottime, cumtime, _) in sorted(
        entries.items(), key=lambda kv: kv[1][3], reverse=True
    ):
        if "/distlab/" in filename and (tottime / total >= 0.003 or cumtime / total >= 0.05):
            print(
                f"{100 * tottime / total:>6.1f}%{100 * cumtime / total:>6.1f}%{ncalls:>10}  "
                f"{_where(filename)}:{line}({fn})"
            )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="rounds of every ping-pong variant")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before each window")
    parser.add_argument("--duration", type=float, default=2.5, help="seconds per window")
    parser.add_argument("--allpairs-duration", type=float, default=5.0)
    parser.add_argument(
        "--intervals",
        type=float,
        nargs="+",
        default=[0.5, 0.1, 0.05],
        help="all-to-all send intervals to run (seconds)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile instead of benchmark")
    parser.add_argument("--profile-concurrency", type=int, default=1)
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument(
        "--part", choices=["all", "allpairs"], default="all", help=argparse.SUPPRESS
    )
    parser.add_argument("--interval", type=float, default=0.1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.part == "allpairs":
        result = trio.run(
            allpairs, ALLPAIRS_NODES, args.interval, 1.0, args.allpairs_duration, args.seed
        )
        print(json.dumps(result))
        return
    if args.profile:
        profile_pingpong(args)
        return

    began = time.perf_counter()
    load_before = load_average()
    print(f"distlab benchmark — {machine()}", flush=True)
    print(
        f"{args.reps} rounds x {len(VARIANTS)} ping-pong variants "
        f"({args.warmup:g} s warm-up + {args.duration:g} s window each), then all-to-all",
        flush=True,
    )
    pingpong = trio.run(run_pingpongs, args)
    pairs = []
    for interval in args.intervals:
        print(f"  all-to-all, {ALLPAIRS_NODES} nodes, every {interval:g} s ...", flush=True)
        pairs.append(run_allpairs_child(interval, args))
    print("  simulator, 60 s of heartbeats ...", flush=True)
    sim = measure_sim(args.seed, args.reps)
    print_report(pingpong, pairs, sim, time.perf_counter() - began, load_before)


if __name__ == "__main__":
    main()
