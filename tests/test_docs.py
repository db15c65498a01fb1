"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import trio

from distlab import ClusterSpec, NodeSpec, open_cluster
from distlab._loading import load_module

README = Path(__file__).resolve().parent.parent / "README.md"


async def test_the_readme_node_example_survives_drops_and_a_crash(tmp_path: Path) -> None:
    first_block = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    example = tmp_path / "readme_nodes.py"
    example.write_text(first_block)
    nodes = load_module(example)
    spec = ClusterSpec(
        (
            NodeSpec("server", "server", nodes.PingServer),
            NodeSpec("client", "client", nodes.PingClient),
        )
    )
    async with open_cluster(spec, seed=1) as cluster:
        cluster.network.set_faults(drop=0.3)
        with trio.fail_after(15):
            await cluster.wait_for_status("client", lambda s: s.get("pongs", 0) >= 3)
        await cluster.restart("client")
        with trio.fail_after(15):
            status = await cluster.wait_for_status("client", lambda s: "pongs" in s)
        assert status["pongs"] >= 4  # it carried on from its durable counter
