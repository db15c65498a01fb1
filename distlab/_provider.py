"""A lab's provider: the one node that creates and removes nodes while the cluster runs.

Why a node: in a lab such as autoscaling, *when* to add or remove an instance is the students'
decision (their autoscaler asks for it in a message), but *how* it happens is the cloud's, which
the lab provides: it boots an instance after a delay, and only it can create or remove nodes. The
lab marks its role ``trusted = true`` in lab.toml, so that it runs in the supervisor, never with
the students' nodes, and the supervisor lends it these two powers. The same class anywhere else
(in a student's file, run apart from the supervisor) has none: its calls raise ``ProviderError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import ProviderError
from ._node import Node, runner_of

if TYPE_CHECKING:
    from ._cluster import Cluster


class ProviderNode(Node):
    """Subclass it for a lab's cloud; call ``launch`` and ``terminate`` from its handlers.

    Example::

        class Cloud(ProviderNode):
            @handler("launch")
            async def on_launch(self, msg: Message) -> None:
                await self.sleep(self.config["boot_seconds"])  # an instance takes time to boot
                await self.launch(msg.body["name"], role="instance")
                self.reply(msg, {"type": "launched", "name": msg.body["name"]})
    """

    async def launch(self, name: str, *, role: str) -> None:
        """Add node ``name`` of lab role ``role`` to the running cluster (a ``spawn`` event)."""
        await self._cluster("launch").spawn(name, role=role)

    async def terminate(self, name: str) -> None:
        """Remove node ``name`` for good (a ``terminate`` event): see ``Cluster.terminate``."""
        if name == self.id:
            raise ProviderError(f"{self.id} cannot terminate itself")
        await self._cluster("terminate").terminate(name)

    def _cluster(self, what: str) -> Cluster:
        cluster = runner_of(self).host.cluster_for_provider(self)
        if cluster is None:
            raise ProviderError(
                f"{self.id} cannot {what} nodes: only a lab's own provider can, in a role that "
                "lab.toml marks 'trusted = true'"
            )
        return cluster
