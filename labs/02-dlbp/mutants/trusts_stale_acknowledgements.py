"""Mutant: an acknowledgement counts even when it comes from a reducer that was replaced meanwhile.

Aimed at test_a_replaced_reducer_that_wakes_up_changes_nothing. The reduce side replaces a
silent reducer, but an answer the old one sends when it wakes up is taken as the new reducer's:
that output is never sent to the new reducer, which then never has the whole job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from distlab import Message, Node, RPCTimeoutError, handler

#: How often each word occurs: ``{"load": 2, "balancer": 1}``.
WordCounts: TypeAlias = dict[str, int]


# -- the map and reduce functions (given: the lab is about running them, not writing them) ------


def count_words(documents: Iterable[str]) -> WordCounts:
    """The map function: how often each word occurs in ``documents``.

    A word is what ``str.split()`` yields, lower-cased.

    >>> count_words(["split and merge", "merge well"])
    {'split': 1, 'and': 1, 'merge': 2, 'well': 1}
    """
    return dict(Counter(word for document in documents for word in document.lower().split()))


def add_counts(outputs: Iterable[Mapping[str, int]]) -> WordCounts:
    """The reduce function: several splits' word counts added up, sorted by word.

    >>> add_counts([{"merge": 2, "split": 1}, {"merge": 1}])
    {'merge': 3, 'split': 1}
    """
    total: Counter[str] = Counter()
    for counts in outputs:
        total.update(counts)
    return dict(sorted(total.items()))


def split_documents(documents: list[str], splits: int) -> list[list[str]]:
    """Cut a job's documents into at most ``splits`` splits, round robin; never zero splits.

    >>> split_documents(["a", "b", "c", "d", "e"], 2)
    [['a', 'c', 'e'], ['b', 'd']]
    >>> split_documents([], 8)  # an empty job is still one (empty) split, so it still finishes
    [[]]
    """
    # SOLUTION: document i goes to split i mod n, with n = splits, but no more splits than documents
    n = max(1, min(splits, len(documents)))
    return [documents[i::n] for i in range(n)]
    # END SOLUTION


# -- the workers ----------------------------------------------------------------------------------


class Worker(Node):
    """Maps splits (counts their words) and reduces jobs (adds up their map outputs).

    A worker keeps nothing the system depends on in memory: if it crashes, the load balancers
    notice its silence and give its work to another worker.
    """

    async def on_start(self) -> None:
        self.mapping = 0  # splits being mapped right now (a worker may map several at once)
        self.status(mapping=0)

    @handler("map")
    async def on_map(self, msg: Message) -> None:
        """Map one split, then send its completion signal to the node the request names."""
        # SOLUTION: map the split, then signal its completion (map_done) to report_to
        body = msg.body
        counts = await self.map_split(body["documents"])
        self.status(mapped={"job": body["job"], "split": body["split"]})
        done = {
            "type": "map_done",
            "job": body["job"],
            "split": body["split"],
            "splits": body["splits"],
            "client": body["client"],
            "counts": counts,
        }
        if body["report_to"] == msg.src:
            # Part B: the master asked, so the answer to its request is the completion signal.
            self.reply(msg, done)
        elif await self.signal_completion(body["report_to"], done):
            # Part A: the reduce LB now keeps the output; only then is the map LB's split done.
            self.reply(msg, {"type": "map_ok", "job": body["job"], "split": body["split"]})
        # END SOLUTION

    async def map_split(self, documents: list[str]) -> WordCounts:
        """Count the words of a split, taking the time real work would take.

        Mapping costs ``config["map_seconds_per_word"]`` seconds per word: long enough for a
        worker to crash halfway, and for the two designs' latencies to be worth comparing.
        """
        self.mapping += 1
        self.status(mapping=self.mapping)
        try:
            words = sum(len(document.split()) for document in documents)
            await self.sleep(self.config["map_seconds_per_word"] * words)
            return count_words(documents)
        finally:
            self.mapping -= 1
            self.status(mapping=self.mapping)

    async def signal_completion(self, reduce_lb: str, done: Mapping[str, Any]) -> bool:
        """Send the completion signal until the reduce LB confirms it keeps the output.

        Returns False after ``config["attempts"]`` silences in a row: this worker then stays
        silent towards the map LB too, which gives the split to another worker.
        """
        # SOLUTION: rpc the map_done until a reply comes; give up after config['attempts'] timeouts
        timeout: float = self.config["timeout"]
        for _ in range(self.config["attempts"]):
            try:
                await self.rpc(reduce_lb, done, timeout=timeout)
                return True
            except RPCTimeoutError:
                self.log.info(f"{reduce_lb} did not confirm split {done['split']} of {done['job']}")
        return False
        # END SOLUTION

    @handler("reduce_input")
    async def on_reduce_input(self, msg: Message) -> None:
        """Keep one map output of a job this worker reduces; with all of them, answer the total.

        The outputs are kept in storage before they are acknowledged: a reducer that crashes and
        comes back still has every output it said it had.
        """
        # SOLUTION: store the output (once per split) before acking; once all are in, add counts
        job, split, splits = msg.body["job"], msg.body["split"], msg.body["splits"]
        key = f"reduce/{job}"
        inputs: dict[str, WordCounts] = self.storage.get(key, {})
        if str(split) not in inputs:  # a re-sent output is already here: nothing to write
            inputs[str(split)] = msg.body["counts"]
            self.storage.put(key, inputs)  # JSON: the split numbers become string keys
        self.status(reducing={"job": job, "have": len(inputs), "of": splits})
        answer: dict[str, Any] = {"type": "reduce_input_ok", "job": job, "split": split}
        if len(inputs) == splits:
            answer["counts"] = add_counts(inputs.values())
            self.status(reduced=job)
        self.reply(msg, answer)
        # END SOLUTION


# -- the map side: Part A's map load balancer ----------------------------------------------------


@dataclass
class MapJob:
    """What the map side keeps about one job: its splits, and which worker mapped each."""

    job: str
    client: str
    splits: list[list[str]]
    mapped_by: dict[int, str] = field(default_factory=dict)


class MapBalancer(Node):
    """Part A's map load balancer: cuts each job into splits and sees every split mapped.

    Splits go to the workers round robin. A worker that does not confirm its split within
    ``config["map_timeout"]`` seconds may have crashed, or only its answer was lost: either way
    the split goes to another worker. Mapping a split twice is harmless, because the reduce side
    keeps one output per split.
    """

    async def on_start(self) -> None:
        await super().on_start()  # the Master is also a ReduceBalancer: let it set up too
        self.map_jobs: dict[str, MapJob] = {}
        self.turn = 0  # whose turn it is in the round robin over the workers

    def completion_signals_go_to(self) -> str:
        """Where mappers send their completion signal: in Part A, the reduce load balancer."""
        return "reduce_lb"

    @handler("job")
    async def on_job(self, msg: Message) -> None:
        """A client submits a job; a retried submission must not start the job twice."""
        # SOLUTION: start the job unless it is already known; answer job_ok either way
        job = msg.body["job"]
        if job not in self.map_jobs:
            self.start_job(job, msg.body["documents"], client=msg.src)
        self.reply(msg, {"type": "job_ok", "job": job})
        # END SOLUTION

    def start_job(self, job: str, documents: list[str], *, client: str) -> None:
        """Cut the job into splits and see each one mapped, each in a task of its own."""
        # SOLUTION: keep a MapJob, publish accepted=job, and spawn see_split_mapped for each split
        plan = MapJob(job, client, split_documents(documents, self.config["splits"]))
        self.map_jobs[job] = plan
        self.status(accepted=job)
        for split in range(len(plan.splits)):
            self.spawn(self.see_split_mapped, plan, split)
        # END SOLUTION

    async def see_split_mapped(self, plan: MapJob, split: int) -> None:
        """Send one split to a worker, and to another each time one stays silent, until done."""
        # SOLUTION: rpc a map request to pick_mapper(...); on RPCTimeoutError, another worker
        timeout: float = self.config["map_timeout"]
        silent: list[str] = []  # workers that let this split time out
        while True:
            mapper = self.pick_mapper(avoid=silent)
            self.status(assigned={"job": plan.job, "split": split, "to": mapper})
            try:
                reply = await self.rpc(mapper, self.map_request(plan, split), timeout=timeout)
            except RPCTimeoutError:
                self.log.info(f"{mapper} did not finish split {split} of {plan.job} in time")
                silent.append(mapper)
                continue
            self.map_finished(plan, split, reply)
            return
        # END SOLUTION

    def pick_mapper(self, *, avoid: Collection[str] = ()) -> str:
        """The next worker in round-robin order, skipping those in ``avoid`` (unless all are)."""
        # SOLUTION: round robin over the workers, skipping those in avoid unless that leaves none
        workers = self.nodes_with_role("worker")
        candidates = [w for w in workers if w not in avoid] or workers
        mapper = candidates[self.turn % len(candidates)]
        self.turn += 1
        return mapper
        # END SOLUTION

    def map_request(self, plan: MapJob, split: int) -> dict[str, Any]:
        """The ``map`` message for one split: the worker copies what the reduce side needs."""
        return {
            "type": "map",
            "job": plan.job,
            "split": split,
            "splits": len(plan.splits),
            "documents": plan.splits[split],
            "client": plan.client,
            "report_to": self.completion_signals_go_to(),
        }

    def map_finished(self, plan: MapJob, split: int, reply: Message) -> None:
        """A worker confirmed a split. In Part A its output is already at the reduce LB."""
        plan.mapped_by[split] = reply.src
        self.status(
            maps_done={"job": plan.job, "done": len(plan.mapped_by), "of": len(plan.splits)}
        )


# -- the reduce side: Part A's reduce load balancer ----------------------------------------------


@dataclass
class ReduceJob:
    """What the reduce side keeps about one job until its result has reached the client."""

    job: str
    splits: int  # how many map outputs make the job whole
    client: str  # who gets the final counts
    outputs: dict[int, WordCounts] = field(default_factory=dict)  # kept, to send them again
    reducer: str | None = None  # chosen at the first completion signal, not before
    acknowledged: set[int] = field(default_factory=set)  # splits the current reducer holds
    failed_reducers: list[str] = field(default_factory=list)  # reducers that fell silent
    counts: WordCounts | None = None  # the result, once the reducer has returned it


class ReduceBalancer(Node):
    """Part A's reduce load balancer: picks each job's reducer late, and feeds it.

    The first completion signal of a job is the moment to choose: a worker has just proven that
    it is alive and has just become free. Every map output is kept here and forwarded to the
    reducer; if the reducer falls silent, another is chosen and is sent every output again.
    """

    async def on_start(self) -> None:
        await super().on_start()
        self.reduce_jobs: dict[str, ReduceJob] = {}

    @handler("map_done")
    async def on_map_done(self, msg: Message) -> None:
        """A completion signal (with the map output): keep the output, then confirm it."""
        # SOLUTION: take the map output, then reply map_done_ok
        self.take_map_output(msg.body, mapper=msg.src)
        self.reply(msg, {"type": "map_done_ok", "job": msg.body["job"], "split": msg.body["split"]})
        # END SOLUTION

    def reduce_job(self, job: str, *, splits: int, client: str) -> ReduceJob:
        """The reduce side's context for ``job``, created the first time it is needed."""
        if job not in self.reduce_jobs:
            self.reduce_jobs[job] = ReduceJob(job, splits, client)
        return self.reduce_jobs[job]

    def take_map_output(self, done: Mapping[str, Any], *, mapper: str) -> None:
        """Keep a split's output; at the job's first, choose the reducer; deliver the output."""
        # SOLUTION: keep each split's output once; choose the reducer now if none; deliver it
        job = self.reduce_job(done["job"], splits=done["splits"], client=done["client"])
        split: int = done["split"]
        if job.counts is not None or split in job.outputs:
            return  # a duplicate: a retried signal, or a split mapped twice after a reassignment
        job.outputs[split] = done["counts"]
        if job.reducer is None:
            self.choose_reducer(job, finished=mapper)  # the delayed choice: now, not at job start
        self.spawn(self.deliver_output, job, split)
        # END SOLUTION

    def choose_reducer(self, job: ReduceJob, *, finished: str | None) -> str:
        """Choose the job's reducer now, and publish the choice (``reducer_chosen``).

        Prefer ``finished``, the worker whose completion signal just arrived: it is alive and
        free. Never choose a worker that has already failed this job as its reducer (unless every
        worker has).
        """
        # SOLUTION: prefer finished, else a random worker that has not failed; set and publish it
        workers = self.nodes_with_role("worker")
        candidates = [w for w in workers if w not in job.failed_reducers] or workers
        reducer = finished if finished in candidates else self.random.choice(candidates)
        job.reducer = reducer
        self.status(reducer_chosen={"job": job.job, "node": reducer})
        self.log.info(f"{reducer} will reduce {job.job}")
        return reducer
        # END SOLUTION

    async def deliver_output(self, job: ReduceJob, split: int) -> None:
        """Get one kept output acknowledged by the job's reducer, whoever that is by then.

        After ``config["attempts"]`` silences in a row from the same reducer, it is presumed
        dead and replaced. (A lost message or two is not a dead node: that is why one silence
        is not enough.)
        """
        # SOLUTION: rpc reduce_input to job.reducer until acked; replace it after repeated silence
        timeout: float = self.config["timeout"]
        silences = 0
        while job.counts is None and split not in job.acknowledged:
            reducer = job.reducer
            assert reducer is not None  # chosen before any output is delivered
            request = {
                "type": "reduce_input",
                "job": job.job,
                "split": split,
                "splits": job.splits,
                "counts": job.outputs[split],
            }
            try:
                reply = await self.rpc(reducer, request, timeout=timeout)
            except RPCTimeoutError:
                if reducer != job.reducer:
                    silences = 0  # replaced meanwhile (by another delivery): try the new one
                    continue
                silences += 1
                if silences >= self.config["attempts"]:
                    self.replace_reducer(job, failed=reducer)
                    silences = 0
                continue
            job.acknowledged.add(split)
            if "counts" in reply.body:
                self.finish(job, reply.body["counts"])
        # END SOLUTION

    def replace_reducer(self, job: ReduceJob, *, failed: str) -> None:
        """The reducer fell silent: choose another, and send it what the silent one held."""
        # SOLUTION: remember the failure, choose again, and re-deliver every acknowledged output
        self.log.warning(f"{failed} stopped answering as reducer of {job.job}; choosing another")
        job.failed_reducers.append(failed)
        self.choose_reducer(job, finished=None)
        # The outputs not yet acknowledged have a delivery running: it will notice the change.
        # Those acknowledged are held only by the silent reducer now: deliver them again.
        held_by_failed = sorted(job.acknowledged)
        job.acknowledged.clear()
        for split in held_by_failed:
            self.spawn(self.deliver_output, job, split)
        # END SOLUTION

    def finish(self, job: ReduceJob, counts: WordCounts) -> None:
        """The reducer returned the job's result: keep it, and take it to the client."""
        if job.counts is not None:
            return
        job.counts = counts
        job.outputs.clear()  # the result is safe here now: the outputs are no longer needed
        self.spawn(self.return_result, job.job, job.client, counts)

    async def return_result(self, job: str, client: str, counts: WordCounts) -> None:
        """Send the final counts to the client until it confirms them."""
        # SOLUTION: rpc job_done to the client until it answers; then publish finished=job
        timeout: float = self.config["timeout"]
        while True:
            try:
                await self.rpc(
                    client, {"type": "job_done", "job": job, "counts": counts}, timeout=timeout
                )
                break
            except RPCTimeoutError:
                self.log.info(f"{client} did not confirm the result of {job}; sending it again")
        self.status(finished=job)
        # END SOLUTION


# -- Part B: one master does both sides ----------------------------------------------------------


class Master(MapBalancer, ReduceBalancer):
    """Part B, the reviewer's simplification: one master load balancer does both sides.

    It splits and assigns like the map LB. A worker's answer to the master's map request is the
    completion signal (``map_done``, with the output), and the master takes it exactly as the
    reduce LB takes a ``map_done`` message: the same delayed choice, the same kept outputs.
    """

    def completion_signals_go_to(self) -> str:
        """Mappers answer the master itself: the answer is the completion signal."""
        return self.id

    def map_finished(self, plan: MapJob, split: int, reply: Message) -> None:
        # SOLUTION: the reply is the completion signal: take its output as the reduce LB would
        super().map_finished(plan, split, reply)
        self.take_map_output(reply.body, mapper=reply.src)
        # END SOLUTION
