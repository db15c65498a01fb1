"""Mutant: the master waits for each worker's reply with ``rpc``, so a late reply is lost.

Aimed at test_workers_slower_than_the_timeout. When the rpc gives up, its reply can still come
(the worker was only slow), but nobody waits for it any more: ``on_partial_ok`` only logs it. If
every worker answers later than the timeout, the master reassigns each share round and round
and never answers. With one slow or crashed worker, another answers in time: it looks correct.
"""

from pathlib import Path
from typing import Any

from distlab._loading import load_module

from distlab import Message, RPCTimeoutError

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

Worker = solution.Worker


class Master(solution.Master):
    async def compute_share(self, job: Any, share: int) -> None:
        timeout: float = self.config["timeout"]
        for worker in self.workers_for(share):
            body = {"type": "partial", "job": job.id, "share": share, "numbers": job.shares[share]}
            try:
                reply = await self.rpc(worker, body, timeout=timeout)
            except RPCTimeoutError:
                pass
            else:
                self.trust(worker)
                self.record_partial(job, share, reply.body["sum"], worker=worker)
                return
            self.suspect(worker)
            self.log.info(
                f"no partial sum from {worker} for {job.id} share {share} within "
                f"{timeout:g} s: reassigning the share"
            )

    async def on_partial_ok(self, msg: Message) -> None:
        # Answers come back through the rpc in compute_share: one here is late, its rpc gave up.
        self.log.info(
            f"late partial sum from {msg.src} for {msg.body['job']} share "
            f"{msg.body['share']}: its rpc already gave up; ignored"
        )
