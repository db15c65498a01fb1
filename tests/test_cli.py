"""The `distlab` command, run as a newcomer would run it."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from run_cli import distlab as run_distlab

from distlab import read_trace
from distlab._labs import find_lab, list_labs
from distlab.grading import check_message_fates

ROOT = Path(__file__).resolve().parent.parent


distlab = partial(run_distlab, timeout=60)


def test_version_and_help_document_every_command() -> None:
    version = distlab("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("distlab ")
    help_text = distlab("--help").stdout
    for command in ("list", "run", "replay", "grade"):
        assert command in help_text
    run_help = distlab("run", "--help").stdout
    for flag in (
        "--processes",
        "--seed",
        "--duration",
        "--delay",
        "--jitter",
        "--drop",
        "--duplicate",
        "--trace",
        "--impl",
    ):
        assert flag in run_help


def test_list_shows_every_lab_one_line_each() -> None:
    result = distlab("list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(list_labs())  # one line each, however long the title
    assert lines[0].split()[:3] == ["0", "00-ping", "Ping:"]


@pytest.mark.parametrize("lab", ["0", "00-ping", "ping"])
def test_run_lab_zero_passes(lab: str, tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    result = distlab("run", lab, "--seed", "1", "--trace", str(trace))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS the client got all 5 pongs" in result.stdout
    assert "seed 1" in result.stdout
    events = list(read_trace(trace))
    assert events[0].kind == "run_start" and events[-1].kind == "run_end"
    assert events[0]["lab"] == "00-ping"  # the replay screen finds the lab's columns by it
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert check_message_fates(events) == []


def test_run_in_processes_passes() -> None:
    result = distlab("run", "0", "--processes", "--seed", "2", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "one process per node" in result.stdout
    assert "PASS" in result.stdout


def test_run_with_a_lossy_network_retries_and_passes() -> None:
    result = distlab("run", "0", "--drop", "0.3", "--seed", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dropped" in result.stdout and "retrying" in result.stdout


def test_run_where_every_message_is_dropped_fails_and_says_why() -> None:
    result = distlab("run", "0", "--drop", "1.0", "--seed", "1", "--duration", "1.5")
    assert result.returncode == 1
    assert "FAIL the client got 0 of 5 pongs in 1.5 s" in result.stdout
    assert "why: the network delivered none of the" in result.stdout
    assert "random drop (p=1)" in result.stdout
    assert "replay this run: distlab run 0 --seed 1 --drop 1 --duration 1.5" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "7"], "no lab '7'; the labs are: 0 (00-ping)"),
        (["run", "0", "--drop", "1.5"], "drop must be a probability between 0 and 1, got 1.5"),
        (["run", "0", "--delay", "-5"], "--delay must be milliseconds >= 0"),
        (["run", "0", "--duration", "0"], "--duration must be seconds > 0"),
        (["run", "0", "--impl", "no/such/file.py"], "no such file (check the --impl path)"),
    ],
)
def test_bad_input_gets_one_clear_error(args: list[str], message: str) -> None:
    result = distlab(*args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("placement", [[], ["--sim"]])
def test_the_log_shows_a_node_that_crashes_as_it_starts(
    tmp_path: Path, placement: list[str]
) -> None:
    """A handout's stub can crash a node in ``__init__``: the log's first lines must say so."""
    impl = tmp_path / "impl.py"
    impl.write_text(
        "from distlab import Node\n\n\n"
        "class PingServer(Node):\n"
        "    def __init__(self) -> None:\n"
        "        super().__init__()\n"
        '        raise NotImplementedError("write this: see YOUR TASK above")\n\n\n'
        "class PingClient(Node):\n"
        "    pass\n",
        encoding="utf-8",
    )
    result = distlab("run", "0", "--impl", str(impl), "--duration", "1", *placement)
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert "server CRASHED NotImplementedError in creating PingServer: write this" in out
    assert f'File "{impl}", line 7, in __init__' in out


def test_an_implementation_that_fails_to_import_gets_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("from distlab import Node\n\nclass PingServer(Node)\n    pass\n")
    result = distlab("run", "0", "--impl", str(broken))
    assert result.returncode == 2
    assert f"{broken}, line 3: SyntaxError" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr

    raising = tmp_path / "raising.py"
    raising.write_text("import distlab\nx = 1\nundefined_name\n")
    result = distlab("run", "0", "--impl", str(raising))
    assert result.returncode == 2
    assert "line 3: NameError: name 'undefined_name' is not defined" in result.stderr

    missing = tmp_path / "missing.py"
    missing.write_text("from distlab import Node\n\nclass PingServer(Node):\n    pass\n")
    result = distlab("run", "0", "--impl", str(missing))
    assert result.returncode == 2
    assert "has no Node class named 'PingClient' (it defines: PingServer)" in result.stderr


def test_grading_a_file_that_does_not_compile_says_so_once(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("from distlab import Node\n\nclass PingServer(Node)\n    pass\n")
    out = tmp_path / "results.json"
    result = distlab("grade", "0", "--impl", str(broken), "--format", "json", "--output", str(out))
    assert result.returncode == 1
    assert result.stdout.count("SyntaxError") == 1
    assert f"{broken}, line 3: SyntaxError: expected ':'" in " ".join(result.stdout.split())
    assert "Traceback" not in result.stdout + result.stderr
    data = json.loads(out.read_text())
    assert data["score"] == 0 and "SyntaxError" in data["error"]
    assert {t["outcome"] for t in data["tests"]} == {"not_run"}


@pytest.mark.parametrize("placement", ["--inprocess", "--processes"])
def test_a_live_run_names_a_node_that_never_yields_stops_it_and_fails(
    placement: str, tmp_path: Path
) -> None:
    impls = Path(__file__).resolve().parent / "impls"
    trace = tmp_path / "hung.jsonl"
    result = distlab(
        "run",
        "0",
        placement,
        "--impl",
        str(impls / "loops_forever.py"),
        "--duration",
        "10",  # a slow machine starts node processes slowly: time to ping, spin, be stopped
        "--trace",
        str(trace),
    )
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert (
        "FAIL node server hung: HungNodeStopped in on_ping (a 'ping' from client): it did " in out
    )
    assert "for over 1 s, so distlab stopped it (at " in out
    assert "loops_forever.py:9)" in out
    events = list(read_trace(trace))
    assert any(
        e.kind == "crash" and str(e["reason"]).startswith("HungNodeStopped in on_ping")
        for e in events
    )
    assert [e.kind for e in events[-2:]] == ["check_failed", "run_end"]


def test_a_failed_run_says_first_which_node_crashed_and_why() -> None:
    impl = Path(__file__).resolve().parent / "impls" / "client_raises_on_start.py"
    result = distlab("run", "0", "--sim", "--seed", "1", "--impl", str(impl))
    assert result.returncode == 1
    whys = [line for line in result.stdout.splitlines() if line.startswith("why:")]
    assert whys[0] == "why: client crashed at t=0.000 s: KeyError in on_start: 'seq'"


def test_ctrl_c_ends_a_live_run_whose_node_blocks_the_process() -> None:
    impl = Path(__file__).resolve().parent / "impls" / "blocks_in_sleep.py"
    proc = subprocess.Popen(
        [sys.executable, "-m", "distlab", "run", "0", "--impl", str(impl), "--duration", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    while "ping" not in proc.stdout.readline():  # the run is under way: the client pinged
        assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)  # far less than the 60 s run, or the 3600 s sleep
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "interrupted" in (proc.stderr.read() if proc.stderr else "")


def test_a_run_killed_midway_keeps_its_trace(tmp_path: Path) -> None:
    trace = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distlab",
            "run",
            "0",
            "--drop",
            "1",
            "--duration",
            "60",
            "--trace",
            str(trace),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        retries = 0
        for line in proc.stdout:  # the live log: wait for the client to retry twice
            retries += "retrying" in line
            if retries == 2:
                break
        # The trace is flushed every 0.1 s; the live log lags it by up to 0.1 s.
        for line in proc.stdout:
            if "retrying" in line:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    lines = trace.read_text().splitlines()
    events = [json.loads(line) for line in lines if line.endswith("}")]
    assert events[0]["kind"] == "run_start"
    assert sum(e["kind"] == "log" for e in events) >= 2


#: a demo that may take longer than this in real time (lab.toml's ``duration``) is run live by
#: `distlab check` only (the lab_check run, which runs every demo in every placement), not here
LIVE_DEMO_SECONDS = 35.0


@pytest.mark.parametrize(
    "placement",
    [[], ["--processes"], ["--sim", "--seed", "3"]],
    ids=["inprocess", "processes", "sim"],
)
@pytest.mark.parametrize("lab", [lab.slug for lab in list_labs()])
def test_every_labs_demo_passes_in_every_placement(lab: str, placement: list[str]) -> None:
    if "--sim" not in placement and find_lab(lab).duration > LIVE_DEMO_SECONDS:
        pytest.skip(f"a demo of up to {find_lab(lab).duration:g} s: `distlab check` runs it live")
    result = distlab("run", lab, "--quiet", *placement)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


def test_one_broken_lab_does_not_hide_the_others_from_list(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "labs" / "00-ping", tmp_path / "00-ping")
    (tmp_path / "05-bad").mkdir()
    (tmp_path / "05-bad" / "lab.toml").write_text("title = \n")
    result = distlab("--labs", str(tmp_path), "list")
    assert result.returncode == 1
    assert "00-ping  Ping: retry until the server answers" in result.stdout
    assert "broken lab 05-bad:" in result.stderr and "not valid TOML" in result.stderr
    assert distlab("--labs", str(tmp_path), "run", "0", "--sim", "--seed", "1").returncode == 0
