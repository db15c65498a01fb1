"""``distlab new SLUG``: a new lab folder with every part a lab has, that passes ``distlab check``.

Why a working lab rather than empty files: an instructor learns the layout from something that
runs. The generated lab is small on purpose, a register whose value must survive its server's
crash, and every part proves the others (the test catches the mutant, the demo fails for it, the
handout scores 0), so it can be changed one piece at a time, checking as one goes.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._errors import ConfigError
from ._labs import labs_dir

_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def new_lab(slug: str, *, root: Path | None = None, title: str | None = None) -> Path:
    """Create ``NN-slug`` (NN: the next free number) under ``root`` (the labs folder)."""
    if not _SLUG.match(slug):
        raise ConfigError(
            f"lab slug {slug!r}: use lowercase words joined by '-', e.g. 'autoscale' or "
            "'read-replicas' (the folder becomes NN-slug)"
        )
    root = root or labs_dir()
    root.mkdir(parents=True, exist_ok=True)
    taken = [
        int(p.name.split("-", 1)[0])
        for p in root.iterdir()
        if p.is_dir() and p.name.split("-", 1)[0].isdigit()
    ]
    if any(p.name.split("-", 1)[-1] == slug for p in root.iterdir() if p.is_dir()):
        raise ConfigError(f"{root} already has a lab named {slug}: choose another slug")
    number = max(taken, default=-1) + 1
    folder = root / f"{number:02d}-{slug}"
    title = title or slug.replace("-", " ").capitalize()
    names = {"number": str(number), "slug": f"{number:02d}-{slug}", "title": title}
    for relative, text in _FILES.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(text, names), encoding="utf-8")
    return folder


def _fill(text: str, names: dict[str, str]) -> str:
    for key, value in names.items():
        text = text.replace("{{" + key + "}}", value)
    return text


_README = """\
# Lab {{number}} — {{title}}

A register on one server: a client writes a value, and reads it back. The server may crash
between the two: what it acknowledged must still be there when it comes back.

(This is the lab `distlab new` generates. Replace the story, the nodes and the tests with your
own, running `distlab check {{number}}` as you go: it says what still holds.)

## The story

Tell where this system comes from (see [the source material](../../docs/source-material.md)),
what goes wrong in it, and the one habit that fixes it. Here: a server that answers "ok" to a
write and then crashes must not come back without the value. Memory dies with a process; storage
does not.

## What you learn

- what a node keeps in memory is lost when it crashes; `self.storage` survives;
- acknowledge a write only after it is stored.

## The cluster

| node | role | class | does |
|---|---|---|---|
| `server` | server | `Register` (you write it) | keeps one value; answers `write` and `read` |
| `client` | client | `RegisterClient` (given, `client.py`) | writes a value, then reads it back |

## Your task

Fill in the blocks marked `YOUR TASK` in the handout (`distlab handout {{number}}`).

## Run it

```console
$ uv run distlab run {{number}} --impl my_register.py          # the demo: write, crash, read
$ uv run distlab lab {{number}} --impl my_register.py          # watch it; k crashes the server
$ uv run distlab grade {{number}} --impl my_register.py        # the graded tests
```

## What the tests check

| claim | graded test | mutant that proves the test |
|---|---|---|
| a value acknowledged before a crash is read back after it \
| `test_a_written_value_survives_a_crash` | `keeps_it_in_memory` |
"""

_TOML = """\
title = "{{title}}"
solution = "solution.py"
scenario = "demo.py"
duration = 10.0

[[nodes]]
role = "server"
class = "Register"
count = 1

[[nodes]]
role = "client"
class = "RegisterClient"
count = 1
file = "client.py"   # the lab provides the client: students write the server

[config]
value = "distlab"    # what the demo client writes
read_after = 1.0     # seconds the demo client waits between its write and its read
timeout = 0.5        # seconds the client waits for an answer before asking again

# Known-buggy implementations, each aimed at the graded test it must fail.
[mutants]
keeps_it_in_memory = "test_a_written_value_survives_a_crash"
"""

_SOLUTION = '''\
"""Lab {{number}} — {{title}}: the register server. Read labs/{{slug}}/README.md first.

Grade it with ``distlab grade {{number}} --impl THIS_FILE``.
"""

from distlab import Message, Node, handler


class Register(Node):
    """Keeps one value, which survives a crash: stored before the write is acknowledged."""

    @handler("write")
    async def on_write(self, msg: Message) -> None:
        # SOLUTION: store the value durably, then acknowledge it
        self.storage.put("value", msg.body["value"])
        self.reply(msg, {"type": "write_ok"})
        # END SOLUTION

    @handler("read")
    async def on_read(self, msg: Message) -> None:
        # SOLUTION: answer with the stored value (None if there is none)
        self.reply(msg, {"type": "read_ok", "value": self.storage.get("value")})
        # END SOLUTION
'''

_CLIENT = '''\
"""The lab's client (given): writes ``config["value"]``, waits ``config["read_after"]``
seconds (the demo crashes the server then), and reads it back."""

from distlab import Node, RPCTimeoutError


class RegisterClient(Node):
    async def on_start(self) -> None:
        self.spawn(self.write_then_read)

    async def write_then_read(self) -> None:
        if not self.storage.get("written", False):
            await self.ask({"type": "write", "value": self.config["value"]})
            self.storage.put("written", True)
        self.status(written=True)
        await self.sleep(self.config["read_after"])
        reply = await self.ask({"type": "read"})
        self.status(read=reply.get("value"), done=True)

    async def ask(self, body: dict[str, object]) -> dict[str, object]:
        """The server's answer to ``body``, asking again after each timeout."""
        while True:
            try:
                return dict((await self.rpc("server", body, timeout=self.config["timeout"])).body)
            except RPCTimeoutError:
                self.log.info(f"no answer to {body['type']}; asking again")
'''

_DEMO = '''\
"""Lab {{number}}'s demo: the client writes, the server crashes and restarts, the client reads."""

import trio

from distlab import Cluster, ScenarioResult


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    value = cluster.config["value"]
    with trio.move_on_after(duration) as out_of_time:
        await cluster.wait_for_status("client", lambda status: status.get("written") is True)
        await cluster.restart("server")  # a crash after the write was acknowledged
        await cluster.wait_for_status("client", lambda status: status.get("done") is True)
    if out_of_time.cancelled_caught:
        return ScenarioResult.failed(f"the client was not done after {duration:g} s")
    read = cluster.status_of("client").get("read")
    if read != value:
        return ScenarioResult.failed(
            f"the server acknowledged {value!r}, crashed, and then answered {read!r}: what it "
            "acknowledged must survive a crash (keep it in self.storage)"
        )
    return ScenarioResult.ok(f"the server crashed after acknowledging {value!r}, and still had it")
'''

_TEST = '''\
"""Lab {{number}}'s graded tests."""

import trio

from distlab.grading import CheckFailed, LabRun, graded

TIMEOUT = 1.0


@graded(points=2, seeds=30, budget=60)
async def test_a_written_value_survives_a_crash(run: LabRun) -> None:
    """A value the server acknowledged is read back after the server crashed and restarted."""
    # No demo client: this test writes and reads itself.
    async with run.cluster(delay=0.005, jitter=0.004, counts={"client": 0}) as cluster:
        client = await run.client(cluster, name="tester")
        value = f"v{run.random.randint(1, 1000)}"
        written = await client.call("server", {"type": "write", "value": value}, timeout=TIMEOUT)
        if written is None:
            raise CheckFailed(f"the server did not acknowledge a write within {TIMEOUT:g} s")
        await trio.sleep(run.random.uniform(0.0, 0.2))
        await cluster.restart("server")
        answer = await client.call("server", {"type": "read"}, timeout=TIMEOUT)
        if answer is None:
            raise CheckFailed(f"the restarted server did not answer a read within {TIMEOUT:g} s")
        if answer.body.get("value") != value:
            raise CheckFailed(
                f"the server acknowledged {value!r}, crashed, and then read back "
                f"{answer.body.get('value')!r}: keep what you acknowledge in self.storage"
            )
'''

_MUTANT = '''\
"""Mutant: the value is kept in memory, so a crash loses it.

Aimed at test_a_written_value_survives_a_crash. Without a crash it looks correct.
"""

from pathlib import Path

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Register(solution.Register):
    async def on_start(self) -> None:
        self.value: object = None

    @handler("write")
    async def on_write(self, msg: Message) -> None:
        self.value = msg.body["value"]
        self.reply(msg, {"type": "write_ok"})

    @handler("read")
    async def on_read(self, msg: Message) -> None:
        self.reply(msg, {"type": "read_ok", "value": self.value})
'''

_FILES = {
    "README.md": _README,
    "lab.toml": _TOML,
    "solution.py": _SOLUTION,
    "client.py": _CLIENT,
    "demo.py": _DEMO,
    "tests/test_register.py": _TEST,
    "mutants/keeps_it_in_memory.py": _MUTANT,
}
