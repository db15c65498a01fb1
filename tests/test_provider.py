"""A lab's provider (its cloud): the one node that launches and terminates nodes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trio
from nodes import Echo, Pinger

from distlab import ClusterSpec, NodeSpec, ProviderNode, open_cluster, run_simulated
from distlab._cluster import Cluster, Placement
from distlab._errors import ConfigError
from distlab._labs import load_lab
from distlab._loading import harness_node

ROOT = Path(__file__).resolve().parent.parent
WAIT = 15.0


@harness_node  # what lab.toml's "trusted = true" does for a lab's provider
class Cloud(ProviderNode):
    """Boots instance-2, then retires instance-1."""

    async def on_start(self) -> None:
        self.spawn(self.scale)

    async def scale(self) -> None:
        await self.sleep(0.05)  # booting
        await self.launch("instance-2", role="instance")
        self.status(launched=True)
        await self.sleep(0.3)
        await self.terminate("instance-1")
        self.status(terminated=True)


class Rogue(ProviderNode):
    """A provider that nobody trusted (a student's, say): it has no powers."""

    async def on_start(self) -> None:
        await self.launch("instance-9", role="instance")


def _spec(provider: type[ProviderNode]) -> ClusterSpec:
    return ClusterSpec(
        (
            NodeSpec("cloud", "cloud", provider),
            NodeSpec("instance-1", "instance", Echo),
            NodeSpec("pinger", "pinger", Pinger),
        ),
        {"target": "instance-2"},
    )


def _run(placement: Placement, provider: type[ProviderNode]) -> Cluster:
    async def scenario() -> Cluster:
        async with open_cluster(_spec(provider), seed=3, placement=placement) as cluster:
            with trio.fail_after(WAIT):
                if provider is Cloud:
                    await cluster.wait_for_status("cloud", lambda s: s.get("terminated") is True)
                    await cluster.wait_for_status("pinger", lambda s: s.get("pongs", 0) >= 3)
                else:
                    await cluster.wait_until(lambda: cluster.state("cloud") == "crashed")
        return cluster

    return run_simulated(scenario, seed=3) if placement == "sim" else trio.run(scenario)


@pytest.mark.parametrize("placement", ["inprocess", "processes", "sim"])
def test_a_trusted_provider_launches_and_terminates_nodes(placement: Placement) -> None:
    cluster = _run(placement, Cloud)
    kinds = [(e.kind, e["node"]) for e in cluster.trace.events if e.kind in ("spawn", "terminate")]
    assert kinds == [("spawn", "instance-2"), ("terminate", "instance-1")]
    assert cluster.state("instance-1") == "terminated"
    assert [e for e in cluster.trace.events if e.kind == "start" and e["node"] == "instance-2"]


@pytest.mark.parametrize("placement", ["inprocess", "sim"])
def test_an_untrusted_provider_has_no_powers(placement: Placement) -> None:
    cluster = _run(placement, Rogue)
    [crash] = [e for e in cluster.trace.events if e.kind == "crash" and e["node"] == "cloud"]
    assert "ProviderError" in crash["reason"]
    assert (
        "only a lab's own provider can, in a role that lab.toml marks 'trusted = true'"
        in (crash["reason"])
    )
    assert "instance-9" not in cluster.names


def test_trusted_is_only_for_a_role_the_lab_provides(tmp_path: Path) -> None:
    lab = tmp_path / "00-ping"
    shutil.copytree(ROOT / "labs" / "00-ping", lab)
    spec = lab / "lab.toml"
    spec.write_text(
        spec.read_text().replace('class = "PingServer"', 'class = "PingServer"\ntrusted = true')
    )
    with pytest.raises(ConfigError, match="'trusted' is true or false, and true only for a role"):
        load_lab(lab)
