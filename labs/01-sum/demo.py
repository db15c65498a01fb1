"""Lab 1's demo scenario: the client asks for sums while worker-2 crashes and comes back.

It passes when the client has every answer, each the exact sum, before time runs out.
"""

import trio

from distlab import Cluster, ScenarioResult

VICTIM = "worker-2"
CRASH_AT = 0.6  # seconds into the run
RESTART_AT = 1.2


async def crash_and_restart(cluster: Cluster) -> None:
    """Crash the victim mid-run, and bring it back a little later."""
    await trio.sleep(CRASH_AT)
    await cluster.crash(VICTIM)
    await trio.sleep(RESTART_AT - CRASH_AT)
    await cluster.restart(VICTIM)


def shares_after_restart(cluster: Cluster) -> int:
    """How many shares the victim was sent after its restart."""
    restarts = [e.t for e in cluster.trace.of_kind("restart") if e["node"] == VICTIM]
    if not restarts:
        return 0
    return sum(
        1
        for e in cluster.trace.of_kind("send")
        if e["dest"] == VICTIM and e.t > restarts[0] and e["body"].get("type") == "partial"
    )


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    wanted = cluster.config["client_jobs"]
    with trio.move_on_after(duration):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(crash_and_restart, cluster)
            await cluster.wait_for_status("client", lambda status: status.get("done") is True)
            nursery.cancel_scope.cancel()
    await cluster.settle()  # with one process per node, each ships its events through a pipe
    status = cluster.status_of("client")
    right, wrong = status.get("right", 0), status.get("wrong", 0)
    if wrong:
        return ScenarioResult.failed(
            f"the master answered {wrong} of {right + wrong} sums wrong (see the client's "
            "warnings in the log)"
        )
    if right < wanted:
        return ScenarioResult.failed(f"the client got {right} of {wanted} sums in {duration:g} s")
    return ScenarioResult.ok(
        f"the client got all {wanted} sums, each exact, by t={cluster.now():.2f} s; {VICTIM} "
        f"was down from t={CRASH_AT:g} s to t={RESTART_AT:g} s and was sent "
        f"{shares_after_restart(cluster)} shares after its restart"
    )
