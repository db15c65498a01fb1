"""Mutant: a share that times out goes to the next worker, once; if that one is silent too,
the master gives up on the share.

Aimed at test_one_worker_is_enough. ``workers_for`` yields the share's own worker and the next
one, and stops. With two workers down, a share whose two workers are both down is never
counted, and the client is told the sum of the other shares: a wrong sum. With one worker down,
the next one answers, and it looks correct.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import trio

from distlab import Message, Node, handler


@dataclass
class Job:
    """The master's context for one ``sum`` request, kept until the client has its answer."""

    id: str
    #: the numbers of each share; share ``i`` goes first to the ``i``-th worker
    shares: list[list[int]]
    #: the partial sum of each share counted so far: share -> sum
    sums: dict[int, int] = field(default_factory=dict)
    #: one event per share, set when its partial sum is counted (``compute_share`` waits on it)
    counted: list[trio.Event] = field(init=False)

    def __post_init__(self) -> None:
        self.counted = [trio.Event() for _ in self.shares]

    def total(self) -> int:
        """The job's answer, once every share is counted."""
        return sum(self.sums.values())


class Master(Node):
    """Answers ``sum`` requests by splitting the numbers into one share per worker.

    Each share goes to its own worker first. If no ``partial_ok`` comes back within
    ``config["timeout"]`` seconds, the master reassigns the share to the next worker in rotation,
    and so on until some worker answers. A worker that let a share time out is *suspected*:
    skipped for ``config["suspect_for"]`` seconds, then trusted again, since it may only have
    been slow, or may have restarted.

    Publishes ``jobs_running``, ``jobs_done``, ``suspected`` and, each time it counts a share's
    partial sum, ``counted="<job>:<share>"`` (the graded tests read that from the trace).
    """

    def __init__(self) -> None:
        super().__init__()
        # Set up here rather than in on_start: on_start runs as a task of its own, and a request
        # may be handled before it has run.
        self.jobs: dict[str, Job] = {}  # job id -> its context, while it is being computed
        self.suspected_since: dict[str, float] = {}  # worker -> when it last let a share time out
        self.jobs_done = 0

    async def on_start(self) -> None:
        self.status(jobs_running=0, jobs_done=0, suspected=[])

    # -- a request, from start to answer ------------------------------------------------------

    @handler("sum")
    async def on_sum(self, msg: Message) -> None:
        """Answer a client's ``sum``: open a job, get all its shares counted, reply ``sum_ok``.

        The shares are computed at the same time, one task each, so one slow worker delays
        only its own share.
        """
        # SOLUTION: open a job, compute its shares at once (a nursery), close it, reply sum_ok
        job = self.open_job(msg.body["numbers"])
        async with trio.open_nursery() as nursery:
            for share in range(len(job.shares)):
                nursery.start_soon(self.compute_share, job, share)
        self.close_job(job)
        self.reply(msg, {"type": "sum_ok", "job": job.id, "sum": job.total()})
        # END SOLUTION

    def open_job(self, numbers: list[int]) -> Job:
        """Create the context of a new request and remember it in ``self.jobs``."""
        # SOLUTION: a Job with a new id and the numbers split into one share per worker
        workers = self.nodes_with_role("worker")
        job = Job(self.new_job_id(), self.split(numbers, len(workers)))
        self.jobs[job.id] = job
        self.status(jobs_running=len(self.jobs))
        return job
        # END SOLUTION

    def close_job(self, job: Job) -> None:
        """Forget a job that has its answer: any partial sum for it from now on is late."""
        del self.jobs[job.id]
        self.jobs_done += 1
        self.status(jobs_running=len(self.jobs), jobs_done=self.jobs_done)

    def new_job_id(self) -> str:
        """A job id never used before, not even by an earlier incarnation of this master.

        A partial sum can arrive long after its job ended, even after the master restarted: were
        ids to start again from ``j1``, it could be taken for a share of a new job. So the count
        is kept in durable storage.
        """
        opened: int = self.storage.get("jobs_opened", 0) + 1
        self.storage.put("jobs_opened", opened)
        return f"j{opened}"

    @staticmethod
    def split(numbers: list[int], k: int) -> list[list[int]]:
        """Deal ``numbers`` round-robin into ``k`` shares, like cards.

        Share ``i`` gets the numbers at positions ``i``, ``i + k``, ``i + 2k``, ... So no two
        shares differ in size by more than one, and some are empty when there are fewer numbers
        than shares.
        """
        # SOLUTION: deal the numbers round-robin into k shares
        return [numbers[i::k] for i in range(k)]
        # END SOLUTION

    # -- getting one share computed, whatever the workers do ----------------------------------

    async def compute_share(self, job: Job, share: int) -> None:
        """Return once ``share`` of ``job`` is counted: ask its worker, and the next on silence.

        Sends the share to each worker of :meth:`workers_for` in turn, and waits up to
        ``config["timeout"]`` seconds for the share to be counted (``job.counted[share]``);
        a worker that stays silent that long is suspected, and the share goes to the next.
        """
        # SOLUTION: send to workers_for(share) in turn until counted; suspect each silent worker
        timeout: float = self.config["timeout"]
        for worker in self.workers_for(share):
            self.send(
                worker,
                {"type": "partial", "job": job.id, "share": share, "numbers": job.shares[share]},
            )
            with trio.move_on_after(timeout):
                await job.counted[share].wait()
                return
            # Silence: the worker may be down, slow, or a message lost. Its answer may still
            # come, and on_partial_ok will count it if it is the first; meanwhile, ask another.
            self.suspect(worker)
            self.log.info(
                f"no partial sum from {worker} for {job.id} share {share} within "
                f"{timeout:g} s: reassigning the share"
            )
        # END SOLUTION

    def workers_for(self, share: int) -> Iterator[str]:
        """The workers to ask for ``share``, in order, without end.

        The share's own worker first (share 0: worker-1, share 1: worker-2, ...), then the next
        ones in rotation, round and round. Suspected workers are skipped, unless every worker is
        suspected: then each is tried in turn, since any of them may be back.
        """
        # SOLUTION: the share's own worker, then the next ones in rotation, forever; skip suspects
        workers = self.nodes_with_role("worker")
        for turn in (share, share + 1):  # its own worker, then the next one
            worker = workers[turn % len(workers)]
            if not self.is_suspected(worker) or all(self.is_suspected(w) for w in workers):
                yield worker
        # END SOLUTION

    # -- which workers to trust ---------------------------------------------------------------

    def suspect(self, worker: str) -> None:
        """``worker`` let a share time out: skip it for a while."""
        self.suspected_since[worker] = self.now()
        self.status(suspected=sorted(self.suspected_since))

    def trust(self, worker: str) -> None:
        """``worker`` answered: it is alive, whatever it did before."""
        if self.suspected_since.pop(worker, None) is not None:
            self.status(suspected=sorted(self.suspected_since))

    def is_suspected(self, worker: str) -> bool:
        """Whether ``worker`` let a share time out less than ``config["suspect_for"]`` s ago.

        Suspicion expires: a worker that stayed silent may only have been slow, or may have
        crashed and restarted since. Written off for good, it would never get work again.
        """
        # SOLUTION: suspected if it let a share time out less than config["suspect_for"] s ago
        suspect_for: float = self.config["suspect_for"]
        since = self.suspected_since.get(worker)
        return since is not None and self.now() - since < suspect_for
        # END SOLUTION

    # -- partial sums coming back -------------------------------------------------------------

    @handler("partial_ok")
    async def on_partial_ok(self, msg: Message) -> None:
        """A worker's partial sum: find its job's context by the job id, and count it there.

        A partial sum for a job no longer in ``self.jobs`` is late (that job has its answer):
        ignore it. Whatever it says, the worker that sent it is alive: trust it again.
        """
        # SOLUTION: trust the sender; find its job in self.jobs (none: late, ignore); record it
        self.trust(msg.src)
        job = self.jobs.get(msg.body["job"])
        if job is None:
            self.log.info(
                f"late partial sum from {msg.src} for {msg.body['job']} share "
                f"{msg.body['share']}: that job is already answered; ignored"
            )
            return
        self.record_partial(job, msg.body["share"], msg.body["sum"], worker=msg.src)
        # END SOLUTION

    def record_partial(self, job: Job, share: int, partial_sum: int, *, worker: str) -> None:
        """Count ``partial_sum`` as the sum of ``share``, unless that share is already counted.

        A share can be answered more than once: the network duplicates a message, or a slow
        worker answers after its share went to another worker. Every answer is right, but only
        the first may count: keep it in ``job.sums``, publish ``status(counted="<job>:<share>")``
        (the tests check from the trace that each share is counted once) and set the share's
        event in ``job.counted``.
        """
        # SOLUTION: keep a share's first sum only; publish counted="<job>:<share>"; set its event
        if share in job.sums:
            self.log.info(
                f"{worker} answered {job.id} share {share} again: already counted; ignored"
            )
            return
        job.sums[share] = partial_sum
        self.status(counted=f"{job.id}:{share}")
        job.counted[share].set()
        # END SOLUTION


class Worker(Node):
    """Sums the numbers of each share it is sent, and answers with the partial sum."""

    def __init__(self) -> None:
        super().__init__()
        self.shares_summed = 0

    @handler("partial")
    async def on_partial(self, msg: Message) -> None:
        """Answer a share with its sum, and with its ``job`` and ``share``.

        Those two fields are what lets the master tell which request the sum belongs to.
        """
        # SOLUTION: reply partial_ok with the same job and share, and the sum of the numbers
        self.reply(
            msg,
            {
                "type": "partial_ok",
                "job": msg.body["job"],
                "share": msg.body["share"],
                "sum": sum(msg.body["numbers"]),
            },
        )
        self.shares_summed += 1
        self.status(shares_summed=self.shares_summed)
        # END SOLUTION
