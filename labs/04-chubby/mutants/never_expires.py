"""Mutant: the lock's lease never runs out: only a release frees the lock.

Aimed at test_a_lease_runs_out_when_its_holder_goes_quiet. A holder that crashes or goes quiet keeps
the lock for good, and every other client is told "busy" forever.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    def lease_ran_out(self) -> bool:
        return False  # the holder will surely release it
