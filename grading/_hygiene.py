"""The grader's process hygiene: a results pipe nobody else can name, and no process left behind.

- ``RecordReader``: the JSON lines a worker writes to its results pipe, read without blocking.
- ``trusted_process``: while it grades, the grader is non-dumpable (``PR_SET_DUMPABLE`` 0: no
  same-user, non-root process can open its ``/proc/PID/fd/N``) and Linux's child subreaper (an
  orphan of any process it started is reparented to it).
- ``Reaper``: kills and reaps every descendant a grading run leaves behind, and names them.

Root can read any process's descriptors; that is documented (docs/grading.md), not defended.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distlab._procfs import ProcStat, all_processes

#: How long one cleanup keeps killing what a run left behind before it gives up.
SWEEP_SECONDS = 5.0
LEFTOVER_COMMAND_CHARS = 80

PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37


def prctl(option: int, arg: int = 0) -> int | None:
    """Linux's prctl(2) with one argument: its result, or None where there is none (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.prctl
    except (OSError, AttributeError):
        return None
    result: int = call(
        ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0)
    )
    return result


def forbid_inspection() -> None:
    """Make this process non-dumpable: the user's other (non-root) processes cannot open its
    ``/proc/PID/fd/*``, ``/proc/PID/mem`` or ptrace it. Root can; a no-op off Linux."""
    prctl(PR_SET_DUMPABLE, 0)


# --- the results pipe --------------------------------------------------------------------------


class RecordReader:
    """The JSON lines a worker writes to its results pipe, read without ever blocking.

    Only complete lines count: the last line torn by a kill stays in the buffer and is never
    parsed, and a line that is not a JSON object is skipped. Each ``read`` takes at most
    ``max_chunks`` chunks, so a writer that never pauses cannot hold up the poll loop.
    """

    CHUNK = 65536

    def __init__(self, fd: int, *, max_chunks: int = 64) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.max_chunks = max_chunks
        self.closed = False
        self.exhausted = False  # the last read found the pipe empty (or at its end)
        self._partial = b""

    def read(self) -> list[dict[str, Any]]:
        """The records completed since the last call."""
        if self.closed:
            return []
        chunks = [self._partial]
        self.exhausted = False
        for _ in range(self.max_chunks):
            try:
                chunk = os.read(self.fd, self.CHUNK)
            except BlockingIOError:
                chunk = b""
            if not chunk:
                self.exhausted = True
                break
            chunks.append(chunk)
        *lines, self._partial = b"".join(chunks).split(b"\n")
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def drain(self, *, rounds: int = 16) -> list[dict[str, Any]]:
        """Everything written so far (the writer has exited): read until the pipe is empty."""
        records = []
        for _ in range(rounds):
            records += self.read()
            if self.exhausted:
                break
        return records

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


# --- process hygiene ---------------------------------------------------------------------------


def _descendants(root: int, table: dict[int, ProcStat], skip: set[int]) -> list[ProcStat]:
    """The processes below ``root``, leaving out ``skip`` and everything below them."""
    children: dict[int, list[ProcStat]] = {}
    for process in table.values():
        children.setdefault(process.ppid, []).append(process)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child.pid not in skip:
                found.append(child)
                stack.append(child.pid)
    return found


def describe_process(pid: int, name: str = "") -> str:
    """``pid 1234 `python3 -c ...``` from /proc/PID/cmdline, shortened."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        raw = b""
    words = [word.decode("utf-8", "replace") for word in raw.split(b"\0") if word]
    command = shlex.join(words) if words else f"[{name or '?'}]"
    command = "".join(c if c.isprintable() else "?" for c in command)  # no escapes in CI logs
    if len(command) > LEFTOVER_COMMAND_CHARS:
        command = command[: LEFTOVER_COMMAND_CHARS - 1] + "…"
    return f"pid {pid} `{command}`"


class Reaper:
    """Kills and reaps every descendant of this process a grading run leaves behind.

    With this process the child subreaper, a descendant whose parent dies is reparented here, so
    "every descendant" is every process a run started, however it detached itself. The children
    this process had when the reaper was made (an in-process caller's own, e.g. pytest's) are
    spared, with everything below them; so is whatever ``sweep`` is told to keep.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.spared = {p.pid for p in all_processes().values() if p.ppid == self.pid}
        #: each process the submission left running, as ``describe_process`` words it
        self.leftovers: list[str] = []
        #: process groups killed with their worker: what dies with them is not a leftover
        self.dying_groups: set[int] = set()
        self._seen: set[int] = set()

    def sweep(self, keep: Iterable[int] = (), *, seconds: float = SWEEP_SECONDS) -> None:
        """SIGKILL and reap every descendant not kept, again until none is left (or time's up)."""
        skip = self.spared | set(keep)
        deadline = time.monotonic() + seconds
        while True:
            victims = _descendants(self.pid, all_processes(), skip)
            if not victims:
                return
            for process in victims:
                if (
                    process.pid not in self._seen
                    and not process.gone
                    and process.pgrp not in self.dying_groups
                ):
                    self.leftovers.append(describe_process(process.pid, process.name))
                self._seen.add(process.pid)
                with contextlib.suppress(OSError):
                    os.kill(process.pid, signal.SIGKILL)
            for process in victims:
                if process.ppid == self.pid:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(process.pid, os.WNOHANG)
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)  # SIGKILL is not instant: let the kernel finish them


def _child_subreaper() -> bool | None:
    """Whether this process is a child subreaper (None where that cannot be known)."""
    value = ctypes.c_int(0)
    result = prctl(PR_GET_CHILD_SUBREAPER, ctypes.addressof(value))
    return None if result is None or result < 0 else bool(value.value)


@contextmanager
def trusted_process() -> Iterator[Reaper]:
    """This process, while it grades: non-dumpable, the child subreaper; both undone after."""
    dumpable = prctl(PR_GET_DUMPABLE)
    subreaper = _child_subreaper()
    prctl(PR_SET_DUMPABLE, 0)
    if subreaper is False:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield Reaper()
    finally:
        if subreaper is False:
            prctl(PR_SET_CHILD_SUBREAPER, 0)
        if dumpable == 1:
            prctl(PR_SET_DUMPABLE, 1)
