"""Lab 2's demo scenario: the client's jobs go to both designs in turn, and are compared.

With the lab's ``mode = "both"``, odd jobs go to Part A's map load balancer and even jobs to
Part B's master. The scenario passes when every job's result is the exact word count of the
documents; its summary compares the two designs: messages and latency per job.
"""

from collections import Counter

import trio

from distlab import Cluster, ScenarioResult

#: Which design a job's entry node belongs to.
DESIGN = {"map_lb": "double LB", "master": "single master"}


def expected_counts(documents: list[str]) -> dict[str, int]:
    """The exact word count, computed here and not by the code under test."""
    return dict(Counter(word for document in documents for word in document.lower().split()))


def results_received(cluster: Cluster) -> dict[str, object]:
    """The counts the client received for each job: the first ``job_done`` delivered to it."""
    sent = {e["mid"]: e["body"] for e in cluster.trace.of_kind("send")}
    results: dict[str, object] = {}
    for e in cluster.trace.of_kind("deliver"):
        body = sent.get(e["mid"], {})
        if e["dest"] == "client" and body.get("type") == "job_done":
            results.setdefault(str(body.get("job")), body.get("counts"))
    return results


def messages_of(cluster: Cluster, job: str) -> int:
    """How many messages were sent about ``job`` (every message of the protocol names its job)."""
    return sum(1 for e in cluster.trace.of_kind("send") if e["body"].get("job") == job)


def comparison(cluster: Cluster, status: dict[str, object]) -> str:
    """One clause per design: jobs, messages per job, mean latency."""
    submitted = status.get("submitted") or {}
    latencies = status.get("latencies") or {}
    assert isinstance(submitted, dict) and isinstance(latencies, dict)
    clauses = []
    for entry, design in DESIGN.items():
        jobs = [job for job, to in submitted.items() if to == entry and job in latencies]
        if not jobs:
            continue
        messages = sum(messages_of(cluster, job) for job in jobs) / len(jobs)
        latency = sum(latencies[job] for job in jobs) / len(jobs)
        clauses.append(
            f"{design}: {messages:.1f} messages and {latency * 1000:.0f} ms per job "
            f"(over {len(jobs)} jobs)"
        )
    return "; ".join(clauses)


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    wanted: int = cluster.config["jobs"]
    expected = expected_counts(cluster.config["documents"])
    with trio.move_on_after(duration):
        await cluster.wait_for_status("client", lambda status: status.get("done") is True)
    # With one process per node, each node's events reach the trace through its own pipe: the
    # client's "done" can arrive before the delivery of the last result it received.
    await cluster.settle()
    status = cluster.status_of("client")
    results = results_received(cluster)
    wrong = sorted(job for job, counts in results.items() if counts != expected)
    if wrong:
        return ScenarioResult.failed(
            f"{len(wrong)} of {len(results)} results were not the exact word count: "
            f"{', '.join(wrong)} (expected {sum(expected.values())} words, "
            f"{len(expected)} distinct)"
        )
    if len(results) < wanted:
        return ScenarioResult.failed(
            f"the client got {len(results)} of {wanted} results in {duration:g} s"
        )
    return ScenarioResult.ok(
        f"all {wanted} jobs counted exactly ({sum(expected.values())} words, "
        f"{len(expected)} distinct). {comparison(cluster, status)}"
    )
