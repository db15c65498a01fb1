"""The student handout: a lab's solution with the marked blocks replaced by stubs.

In a solution file, the code students must write is marked::

    async def on_ping(self, msg: Message) -> None:
        # SOLUTION: answer with a pong carrying the ping's seq
        self.reply(msg, {"type": "pong", "seq": msg.body["seq"]})
        # END SOLUTION

and the handout keeps the comment as the task and raises in its place::

    async def on_ping(self, msg: Message) -> None:
        # YOUR TASK: answer with a pong carrying the ping's seq
        raise NotImplementedError("write this: see YOUR TASK above")

So the stubbed file still imports and runs; a node that reaches a stub crashes with that
message in the trace, and the grader scores it zero without breaking.
"""

from __future__ import annotations

import re

from ._errors import ConfigError

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# SOLUTION: (?P<task>.+?)\s*$")
_END = re.compile(r"^[ \t]*# END SOLUTION\s*$")


def stub_solution(source: str, *, name: str = "the solution") -> str:
    """Replace every marked block with a task comment and a NotImplementedError."""
    out: list[str] = []
    task: str | None = None
    begun_at = 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if task is None and begin:
            task, indent, begun_at = begin["task"], begin["indent"], number
            out.append(f"{indent}# YOUR TASK: {task}\n")
            out.append(f'{indent}raise NotImplementedError("write this: see YOUR TASK above")\n')
        elif task is not None and begin:
            raise ConfigError(
                f"{name}, line {number}: a SOLUTION block inside another "
                f"(opened at line {begun_at})"
            )
        elif end:
            if task is None:
                raise ConfigError(f"{name}, line {number}: END SOLUTION without a SOLUTION")
            task = None
        elif task is None:
            out.append(line)
    if task is not None:
        raise ConfigError(
            f"{name}, line {begun_at}: SOLUTION block never ends (add '# END SOLUTION')"
        )
    return "".join(out)


def count_blocks(source: str) -> int:
    return sum(1 for line in source.splitlines() if _BEGIN.match(line))
