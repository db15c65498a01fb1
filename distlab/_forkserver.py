"""Node processes forked from a warm template instead of started from scratch.

Why: a fresh interpreter spends about 0.3 s of CPU importing trio and distlab before a node can
run, and a live run starts a process for every node and every restart (a graded live test starts
dozens). So the first node process of a run starts a *fork server*: one interpreter that has
done those imports, never runs node code itself, and forks a child per node. A forked child
loads the student's module fresh, like a new process would: nothing of a node survives into the
next incarnation.

The supervisor sends the server, over a socket, the pipes a node process needs (its commands,
its events, its output) and one more, the *status pipe*: the server writes the child's pid to
it at once, and its exit code once the child has gone. The server is this process's child and
lives as long as its socket: when the supervisor's process exits, the server kills what it
forked and exits too.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import traceback
from typing import Any

import trio

_REQUEST_LIMIT = 1024 * 1024
_PR_SET_PDEATHSIG = 1


class ForkedProcess:
    """A node process forked by the server: the parts of ``trio.Process`` the supervisor uses."""

    def __init__(self, pid: int, status: trio.lowlevel.FdStream, stdout: trio.lowlevel.FdStream):
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._status = status
        self._reading = trio.Lock()

    def send_signal(self, signum: int) -> None:
        # The server reaps a child as soon as it exits, then says so: a signal sent in between
        # goes to a freed pid, which the kernel hands out again only after the whole pid space.
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    async def wait(self) -> int:
        """The exit code, as ``subprocess`` gives it (minus the signal number if killed)."""
        async with self._reading:
            if self.returncode is None:
                line = await _read_line(self._status)
                with trio.CancelScope(shield=True):
                    await self._status.aclose()
                # No line: the server itself died (killed by someone); so did its children.
                self.returncode = int(line.split()[1]) if line.startswith("exit ") else -9
        return self.returncode


async def _read_line(stream: trio.lowlevel.FdStream) -> str:
    data = b""
    while not data.endswith(b"\n"):
        more = await stream.receive_some(1)
        if not more:
            break
        data += more
    return data.decode().strip()


class _Server:
    """The supervisor's end of the fork server."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "distlab._forkserver", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        mine.setblocking(False)
        self.socket = mine

    def alive(self) -> bool:
        return self.proc.poll() is None


_server: _Server | None = None
#: seconds the fork server has to end its children and exit once told to stop
_STOP_SECONDS = 2.0


def stop_fork_server() -> None:
    """End this process's fork server now (it kills what it forked), if it runs.

    It would end by itself once this process exits; a grading worker ends it first, so that
    the grader's sweep of leftover processes never finds distlab's own server among the
    student's."""
    global _server
    server, _server = _server, None
    if server is None:
        return
    server.socket.close()
    try:
        server.proc.wait(timeout=_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


async def fork_node_process(cmd_fd: int, event_fd: int) -> ForkedProcess:
    """Start ``distlab._child CMD_FD EVENT_FD`` as a forked node process.

    The caller keeps its own copies of ``cmd_fd`` and ``event_fd`` (and closes them).
    """
    global _server
    out_read, out_write = os.pipe()
    status_read, status_write = os.pipe()
    request = json.dumps({"cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    try:
        for attempt in (1, 2):
            if _server is None or not _server.alive():
                _server = _Server()
            try:
                await _send(_server.socket, request, [cmd_fd, event_fd, out_write, status_write])
                break
            except OSError:
                if attempt == 2:
                    raise
                _server = None  # it died (a node process can kill it): start another
    finally:
        os.close(out_write)
        os.close(status_write)
    status = trio.lowlevel.FdStream(status_read)
    stdout = trio.lowlevel.FdStream(out_read)
    line = await _read_line(status)
    if not line.startswith("pid "):
        await status.aclose()
        await stdout.aclose()
        raise OSError(f"the fork server could not start a node process ({line or 'it exited'})")
    return ForkedProcess(int(line.split()[1]), status, stdout)


async def _send(sock: socket.socket, data: bytes, fds: list[int]) -> None:
    while True:
        try:
            socket.send_fds(sock, [data], fds)
            return
        except BlockingIOError:
            await trio.lowlevel.wait_writable(sock)


# --- the server's side ---------------------------------------------------------------------------


def _serve(sock: socket.socket) -> None:
    importlib.import_module("distlab._child")  # what every node process imports, once, here
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the supervisor to handle
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_write)
    children: dict[int, int] = {}  # pid -> its status pipe
    try:
        while True:
            readable, _, _ = select.select([sock.fileno(), wake_read], [], [])
            if wake_read in readable:
                os.read(wake_read, 4096)
                _reap(children)
            if sock.fileno() in readable:
                try:
                    data, fds, _, _ = socket.recv_fds(sock, _REQUEST_LIMIT, 4)
                except ConnectionError:
                    data, fds = b"", []
                if not data:
                    return  # the supervisor has gone
                server_fds = [sock.fileno(), wake_read, wake_write, *children.values()]
                pid = _fork_child(json.loads(data), fds, server_fds)
                for fd in fds[:3]:
                    os.close(fd)
                if pid is None:
                    os.write(fds[3], b"failed\n")
                    os.close(fds[3])
                else:
                    os.write(fds[3], f"pid {pid}\n".encode())
                    children[pid] = fds[3]
                    _reap(children)  # it may be gone already
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _reap(children: dict[int, int]) -> None:
    for pid in list(children):
        with contextlib.suppress(ChildProcessError):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
        status_fd = children.pop(pid)
        with contextlib.suppress(OSError):
            os.write(status_fd, f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
        os.close(status_fd)


def _fork_child(request: dict[str, Any], fds: list[int], server_fds: list[int]) -> int | None:
    if len(fds) != 4:
        return None
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid:
        return pid
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _die_with_parent()
        for fd in server_fds:
            os.close(fd)
        cmd_fd, event_fd, out_fd, status_fd = fds
        os.close(status_fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(null)
        os.close(out_fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]  # as ``python -m`` would have it
        sys.argv = ["distlab._child", str(cmd_fd), str(event_fd)]
        from distlab._child import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _die_with_parent() -> None:
    """If the server is killed, its children go too (Linux): no node outlives its supervisor."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def main() -> None:
    _serve(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()
