"""The fork server behind the processes placement: it starts node processes, and never
outlives the process that uses it, nor lets its children outlive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import trio
from nodes import Echo, Pinger

from distlab import ClusterSpec, NodeSpec, _forkserver, open_cluster
from distlab._cluster import Cluster

WAIT = 20.0


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0): it has exited, its parent has not reaped it yet.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(") ", 1)[1].startswith("Z")


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        left = [p for p in pids if not _gone(p)]
        if not left:
            return []
        time.sleep(0.05)  # polling processes we do not own: no event to wait on
    return [p for p in pids if not _gone(p)]


def _spec() -> ClusterSpec:
    return ClusterSpec(
        (NodeSpec("echo", "echo", Echo), NodeSpec("pinger", "pinger", Pinger)), {"target": "echo"}
    )


async def _pongs(cluster: Cluster, at_least: int) -> None:
    with trio.fail_after(WAIT):
        await cluster.wait_for_status("pinger", lambda s: s.get("pongs", 0) >= at_least)


async def test_a_killed_fork_server_takes_its_nodes_and_the_next_node_gets_a_new_one() -> None:
    async with open_cluster(_spec(), seed=1, placement="processes") as cluster:
        await _pongs(cluster, 3)
        server = _forkserver._server
        assert server is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        with trio.fail_after(WAIT):
            await cluster.wait_until(
                lambda: cluster.state("echo") == cluster.state("pinger") == "crashed"
            )
        await cluster.restart("echo")
        await cluster.restart("pinger")
        await _pongs(cluster, 3)
        assert _forkserver._server is not server
    crashes = [e for e in cluster.trace.events if e.kind == "crash"]
    assert sorted(c["node"] for c in crashes) == ["echo", "pinger"]
    assert all("killed by SIGKILL" in c["reason"] for c in crashes)


_SUPERVISOR = textwrap.dedent(
    """
    import os, sys, trio
    sys.path.insert(0, {tests!r})
    from test_forkserver import _pongs, _spec
    from distlab import open_cluster, _forkserver

    async def main():
        async with open_cluster(_spec(), seed=1, placement="processes") as cluster:
            await _pongs(cluster, 2)
            pids = [_forkserver._server.proc.pid]
            pids += [cluster._driver._procs[n].proc.pid for n in ("echo", "pinger")]
            print(*pids, flush=True)
            os.kill(os.getpid(), 9)  # no clean-up of any kind

    trio.run(main)
    """
)


def test_nothing_outlives_a_supervisor_that_is_killed() -> None:
    script = _SUPERVISOR.format(tests=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 3
    assert _wait_gone(pids) == []


async def test_stopping_the_fork_server_ends_it_before_anyone_sweeps() -> None:
    # A grading worker stops it before it exits: the grader's sweep for processes the student's
    # code left running must never find distlab's own server.
    async with open_cluster(_spec(), seed=1, placement="processes") as cluster:
        await _pongs(cluster, 2)
    server = _forkserver._server
    assert server is not None and server.alive()
    _forkserver.stop_fork_server()
    assert server.proc.poll() is not None
    assert _forkserver._server is None
    _forkserver.stop_fork_server()  # again: nothing to do
