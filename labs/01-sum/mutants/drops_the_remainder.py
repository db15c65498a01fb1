"""Mutant: the master cuts the numbers into equal blocks of ``len(numbers) // k``.

Aimed at test_the_sum_is_exact. The integer division drops the last ``len(numbers) % k``
numbers: 100 numbers lose one, and 1 or 2 numbers lose all of theirs. When the count is a
multiple of the number of workers, it looks correct.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    @staticmethod
    def split(numbers: list[int], k: int) -> list[list[int]]:
        size = len(numbers) // k
        return [numbers[i * size : (i + 1) * size] for i in range(k)]
