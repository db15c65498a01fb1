"""distlab: learn distributed systems by building them.

Students write :class:`Node` subclasses; the runtime runs them over real sockets (or in the
simulator), through a network you can break, and records everything in one trace.
"""

from ._cluster import Cluster, ClusterSpec, NodeSpec, open_cluster
from ._errors import (
    BodyNotJSONError,
    ConfigError,
    DistlabError,
    ImplementationError,
    LabNotFoundError,
    NetworkError,
    NodeError,
    ProviderError,
    RPCTimeoutError,
)
from ._faults import FaultState, LinkFaults
from ._labs import ScenarioResult
from ._message import Message
from ._network import Decision, Network
from ._node import Node, handler
from ._provider import ProviderNode
from ._runner import TaskHandle
from ._sim import run_simulated
from ._storage import Storage, StorageValueError
from ._trace import Trace, TraceEvent, read_trace
from ._version import __version__

__all__ = [
    "BodyNotJSONError",
    "Cluster",
    "ClusterSpec",
    "ConfigError",
    "Decision",
    "DistlabError",
    "FaultState",
    "ImplementationError",
    "LabNotFoundError",
    "LinkFaults",
    "Message",
    "Network",
    "NetworkError",
    "Node",
    "NodeError",
    "NodeSpec",
    "ProviderError",
    "ProviderNode",
    "RPCTimeoutError",
    "ScenarioResult",
    "Storage",
    "StorageValueError",
    "TaskHandle",
    "Trace",
    "TraceEvent",
    "__version__",
    "handler",
    "open_cluster",
    "read_trace",
    "run_simulated",
]
