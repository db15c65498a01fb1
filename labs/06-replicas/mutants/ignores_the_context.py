"""Mutant: a write's version counts only what the replica that takes it keeps.

Aimed at test_a_write_with_the_read_context_resolves_siblings. At a replica that has every
sibling, the resolution replaces them anyway; at one that has not heard of them yet, the
resolution is one more concurrent version, and the conflict it was meant to end stays.
"""

from pathlib import Path
from typing import Any

from distlab import Message, handler
from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")
Sibling = solution.Sibling


class Replica(solution.Replica):
    def new_version(self, key: str, context: Any) -> dict[str, int]:
        return super().new_version(key, {})  # the client's context thrown away
