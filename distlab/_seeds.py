"""Seeds derived from the run's seed, stable across processes and Python versions.

Python's ``hash()`` of a string changes with ``PYTHONHASHSEED``, so it must never feed an RNG.
We hash with SHA-256 instead: every node process, in-process or not, derives the same seed for
the same (run seed, purpose, names) and so makes the same choices.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *parts: object) -> int:
    """A 64-bit seed for one purpose, e.g. ``derive_seed(7, "link", "a", "b")``."""
    text = "\x1f".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def derived_rng(seed: int, *parts: object) -> random.Random:
    """A ``random.Random`` seeded with :func:`derive_seed`."""
    return random.Random(derive_seed(seed, *parts))
