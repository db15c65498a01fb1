"""Running the ``distlab`` command the way a student does: a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def distlab(
    *args: str, timeout: float = 300, columns: int = 120, hash_seed: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m distlab ARGS`` from the project root; output captured, never raises on exit."""
    env = {**os.environ, "COLUMNS": str(columns)}
    if hash_seed is not None:
        env["PYTHONHASHSEED"] = hash_seed
    return subprocess.run(
        [sys.executable, "-m", "distlab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        check=False,
    )
