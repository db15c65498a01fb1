"""What Linux's /proc says of a process: its state, parent, group and CPU time.

The simulator's watchdog reads a node host's CPU time and state from here, and the grader finds
the processes a grading run left behind. Where there is no /proc (not Linux), nothing is found.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    pgrp: int
    state: str  # R running, S sleeping, D disk wait, Z zombie, T stopped...
    name: str  # the short name /proc/PID/stat gives
    cpu_seconds: float  # user + system time so far, all threads

    @property
    def gone(self) -> bool:
        """Exited (a zombie waiting to be reaped, or dead)."""
        return self.state in ("Z", "X")


def read_stat(pid: int, *, task: int | None = None) -> ProcStat | None:
    """The process's /proc/PID/stat (or one thread's, ``task``), or None if it is not there."""
    path = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    try:
        with open(path, "rb") as file:
            stat = file.read()
    except OSError:
        return None
    left, right = stat.find(b"("), stat.rfind(b")")
    fields = stat[right + 2 :].split()
    if left < 0 or right < left or len(fields) < 13:
        return None
    with contextlib.suppress(ValueError):
        return ProcStat(
            pid=pid,
            ppid=int(fields[1]),
            pgrp=int(fields[2]),
            state=fields[0].decode("ascii", "replace"),
            name=stat[left + 1 : right].decode("utf-8", "replace"),
            cpu_seconds=(int(fields[11]) + int(fields[12])) / _CLOCK_TICKS,
        )
    return None


def all_processes() -> dict[int, ProcStat]:
    """Every process /proc shows."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    found = {}
    for entry in entries:
        if entry.isdigit() and (stat := read_stat(int(entry))) is not None:
            found[stat.pid] = stat
    return found


def any_thread_running(pid: int) -> bool:
    """Is any thread of the process running (or ready to run), rather than waiting?"""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        stat = read_stat(pid, task=int(task))
        if stat is not None and stat.state == "R":
            return True
    return False
