"""Fault schedules for graded tests: what to break, when, and which node.

::

    from grading import faults

    schedule = run.schedule(cluster)
    schedule.every(2.0, faults.crash(faults.random_node("worker")), jitter=0.5, until=10)
    schedule.cycle([faults.partition(faults.majority_minority()), faults.heal()], period=1.5)
    async with schedule.running():
        await trio.sleep(12)
    await schedule.final_heal()   # a healthy cluster for the end checks
"""

from ._schedule import (
    Action,
    FaultSchedule,
    Shape,
    Target,
    bridge,
    crash,
    groups,
    halves,
    heal,
    isolated,
    majority_minority,
    node,
    node_where,
    partition,
    pause,
    random_node,
    restart,
    resume,
    set_faults,
)

__all__ = [
    "Action",
    "FaultSchedule",
    "Shape",
    "Target",
    "bridge",
    "crash",
    "groups",
    "halves",
    "heal",
    "isolated",
    "majority_minority",
    "node",
    "node_where",
    "partition",
    "pause",
    "random_node",
    "restart",
    "resume",
    "set_faults",
]
