"""Fault schedules for graded tests: what to break, when, and which node.

::

    from distlab.grading import faults

    schedule = run.schedule(cluster)
    schedule.every(2.0, faults.crash(faults.random_node("worker")), jitter=0.5, until=10)
    schedule.cycle([faults.partition(faults.majority_minority()), faults.heal()], period=1.5)
    schedule.at(1.0, faults.crash_after("master", "assign"))    # between two protocol steps
    schedule.at(0.5, faults.slow_node("worker-1", delay=0.6, way="out"))  # past the timeouts
    schedule.at(2.0, faults.zombie(faults.random_node("worker"), seconds=1.5))
    async with schedule.running():
        await trio.sleep(12)
    await schedule.final_heal()   # a healthy cluster for the end checks
"""

from ._fault_actions import crash_after, slow_link, slow_node, zombie
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
    "crash_after",
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
    "slow_link",
    "slow_node",
    "zombie",
]
