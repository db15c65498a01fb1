"""Lab 1 with a worker whose handler adds up its share in a loop that never ends on a negative
number: every test that needs a worker hangs, and the grader must say where, quickly."""

from pathlib import Path

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parents[2] / "labs" / "01-sum" / "solution.py")

Master = solution.Master


class Worker(solution.Worker):
    @handler("partial")
    async def on_partial(self, msg: Message) -> None:
        numbers = msg.body["numbers"]
        total, i = 0, 0
        while i < len(numbers):
            total += numbers[i]
            if numbers[i] >= 0:  # the bug: the loop never moves past a negative number
                i += 1
        self.reply(msg, {"type": "partial_ok", "sum": total})
