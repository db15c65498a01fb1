"""Mutant: the leader sends a heartbeat round four times per heartbeat interval.

Aimed at test_a_stable_leader_costs_few_messages (hidden). Everything works, and elections are
even a little harder to start by mistake; but a stable cluster sends four times the messages
it needs to.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    async def lead(self) -> None:
        while True:
            if self.master_lease_lapsed():
                self.become_follower(leader=None)
                return
            self.forget_expired_lock()
            self.send_heartbeats()
            await self.sleep(self.config["heartbeat_interval"] / 4)  # "just to be safe"
