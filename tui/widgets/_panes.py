"""The four cluster panes, laid out the same way on the live screen and the replay screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from tui._model import ClusterModel

from ._eventlog import EventLog
from ._network import NetworkPanel
from ._nodes import NodesTable
from ._spacetime import SpaceTime

TABLE_CHROME = 4  # rows of the nodes table that are not nodes: borders, heading, scroll bar
NETWORK_ROWS = 6  # rows of the network panel without per-link faults
TOP_BAND_MAX = 16


class ClusterPanes(Vertical):
    """Nodes and network on top, messages and events below; ``show(model)`` redraws all four."""

    DEFAULT_CSS = """
    ClusterPanes #top { height: 8; }
    ClusterPanes #top > * { height: 100%; }
    ClusterPanes #top NodesTable { width: 1fr; }
    ClusterPanes #middle { height: 1fr; }
    ClusterPanes #middle SpaceTime { width: 2fr; }
    ClusterPanes #middle EventLog { width: 3fr; }
    """

    def __init__(self, *, fields: tuple[str, ...] = ()) -> None:
        """``fields``: status fields the nodes table shows in columns of their own."""
        super().__init__()
        self.fields = fields

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield NodesTable(fields=self.fields)
            yield NetworkPanel()
        with Horizontal(id="middle"):
            yield SpaceTime()
            yield EventLog()

    def show(self, model: ClusterModel) -> None:
        # The nodes table and the network panel side by side, both as tall as the taller one.
        nodes = len(model.nodes) + TABLE_CHROME
        network = NETWORK_ROWS + len(model.faults.overrides) + 2
        self.query_one("#top").styles.height = min(TOP_BAND_MAX, max(nodes, network))
        self.query_one(NodesTable).show(model)
        self.query_one(SpaceTime).show(model)
        self.query_one(EventLog).show(model)
        self.query_one(NetworkPanel).show(model)
