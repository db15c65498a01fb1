"""Mutant: a worker answers every share twice, "in case one answer is lost".

Aimed at test_few_messages_per_job_on_a_healthy_network. The master ignores the second answer,
so every sum stays exact; only the message count gives it away.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Master = solution.Master


class Worker(solution.Worker):
    async def on_partial(self, msg: Message) -> None:
        await super().on_partial(msg)
        await super().on_partial(msg)  # once more, just in case
