"""Lab 2's client. The lab provides it: you write the load balancers and the workers.

It submits word-count jobs over ``config["documents"]``, one after another, and records the
answers. The demo and the graded tests both use it: the tests read what it publishes.
"""

from typing import Any

import trio

from distlab import Message, Node, RPCTimeoutError, handler


def words_in(counts: Any) -> int | str:
    """How many words a result counted (``"?"`` if it is not word counts at all)."""
    if isinstance(counts, dict) and all(isinstance(n, int) for n in counts.values()):
        return sum(counts.values())
    return "?"


#: Where ``config["mode"]`` sends jobs: Part A's map load balancer, or Part B's master.
ENTRY = {"double": "map_lb", "single": "master"}


class JobClient(Node):
    """Submits ``config["jobs"]`` jobs (``j1``, ``j2``, ...) and waits for each one's result.

    A job id names one job in the whole cluster: when a test runs several clients
    (``client-1``, ``client-2``, ...), each prefixes its jobs with its name (``client-2.j1``).

    The mode decides where jobs go: ``"double"`` to the map LB, ``"single"`` to the master,
    ``"both"`` alternately (``j1`` to the map LB, ``j2`` to the master, ...) so that the demo can
    compare the two designs on the same work.

    A submission that is not confirmed (``job_ok``) within ``config["timeout"]`` seconds is sent
    again, with the same job id. The result comes later, as a ``job_done`` message from the
    reduce side, which the client confirms (``job_done_ok``); the first result for a job is the
    one it keeps. Publishes ``submitted`` (job -> the node it went to), ``results`` (job -> how
    many words the result counted; the counts themselves are in the trace, in the ``job_done``
    messages), ``latencies`` (job -> seconds from the first submission to the result) and
    ``done``.
    """

    async def on_start(self) -> None:
        self.submitted: dict[str, str] = {}
        self.results: dict[str, Any] = {}  # job -> the counts, as the reduce side sent them
        self.latencies: dict[str, float] = {}
        self.arrived: dict[str, trio.Event] = {}
        self.spawn(self.run_jobs)

    def job_name(self, n: int) -> str:
        """The id of this client's job number ``n`` (1, 2, ...): unique in the cluster."""
        return f"j{n}" if self.id == "client" else f"{self.id}.j{n}"

    def entry_for(self, n: int) -> str:
        """The node that gets job number ``n`` (1, 2, ...)."""
        mode = self.config["mode"]
        if mode == "both":
            return ENTRY["double"] if n % 2 == 1 else ENTRY["single"]
        return ENTRY[mode]

    async def run_jobs(self) -> None:
        wanted: int = self.config["jobs"]
        self.status(submitted={}, results={}, latencies={}, done=wanted == 0)
        for n in range(1, wanted + 1):
            job = self.job_name(n)
            started = self.now()
            await self.submit(job, self.entry_for(n))
            await self.result_of(job)
            self.latencies[job] = round(self.now() - started, 6)
            self.status(
                results={job: words_in(counts) for job, counts in self.results.items()},
                latencies=self.latencies,
                done=len(self.results) == wanted,
            )
            await self.sleep(self.config["pause"])

    async def submit(self, job: str, entry: str) -> None:
        """Submit ``job`` to ``entry`` until it confirms; a repeat carries the same job id."""
        self.submitted[job] = entry
        self.status(submitted=self.submitted)
        body = {"type": "job", "job": job, "documents": list(self.config["documents"])}
        timeout: float = self.config["timeout"]
        while job not in self.results:  # a fast result may even beat the confirmation
            try:
                await self.rpc(entry, body, timeout=timeout)
                return
            except RPCTimeoutError:
                self.log.info(f"{entry} did not confirm {job} within {timeout:g} s; again")

    async def result_of(self, job: str) -> Any:
        """Wait for ``job``'s result (no time limit here: the graded tests set their own)."""
        if job not in self.results:
            await self.arrived.setdefault(job, trio.Event()).wait()
        return self.results[job]

    @handler("job_done")
    async def on_job_done(self, msg: Message) -> None:
        job = str(msg.body.get("job"))
        self.reply(msg, {"type": "job_done_ok", "job": job})
        if job in self.results:
            return  # sent again because our confirmation was lost: we have it already
        if job not in self.submitted:
            self.log.warning(f"{msg.src} sent a result for {job}, which was never submitted")
            return
        self.results[job] = msg.body.get("counts")
        self.arrived.setdefault(job, trio.Event()).set()
