"""A quiet demo for the TUI's tests: lab 0 with no faults of its own (the lab's demo breaks the
network on purpose; these tests break it with keys, and count what they did)."""

import trio

from distlab import Cluster, ScenarioResult


async def scenario(cluster: Cluster, *, duration: float) -> ScenarioResult:
    wanted = cluster.config["pings"]
    with trio.move_on_after(duration):
        await cluster.wait_for_status("client", lambda status: status.get("done") is True)
    pongs = cluster.status_of("client").get("pongs", 0)
    if pongs >= wanted:
        return ScenarioResult.ok(f"the client got all {wanted} pongs")
    return ScenarioResult.failed(f"the client got {pongs} of {wanted} pongs in {duration:g} s")
