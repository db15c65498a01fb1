"""The four cluster panes, laid out the same way on the live screen and the replay screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable

from distlab.tui._model import ClusterModel

from ._chart import CountChart
from ._eventlog import EventLog
from ._network import NetworkPanel
from ._nodes import NodesTable
from ._spacetime import SpaceTime

if TYPE_CHECKING:
    from distlab._labs import ChartSpec

TABLE_CHROME = 4  # rows of the nodes table that are not nodes: borders, heading, scroll bar
NETWORK_ROWS = 6  # rows of the network panel without per-link faults
TOP_BAND_MAX = 16  # rows of the top band at most, unless the screen is tall: then ...
MIDDLE_BAND_MIN = 12  # ... up to all but this many rows of the panes (messages and events)


class ClusterPanes(Vertical):
    """Nodes and network on top, messages and events below; ``show(model)`` redraws all four.

    A lab's chart (``[tui.chart]``), if it declares one, goes under the network panel.
    """

    DEFAULT_CSS = """
    ClusterPanes #top { height: 8; }
    ClusterPanes #top > * { height: 100%; }
    ClusterPanes #top NodesTable { width: 1fr; }
    ClusterPanes #side { width: 30; }
    ClusterPanes #side NetworkPanel { height: 1fr; }
    ClusterPanes #middle { height: 1fr; }
    ClusterPanes #middle SpaceTime { width: 2fr; }
    ClusterPanes #middle EventLog { width: 3fr; }
    """

    def __init__(self, *, fields: tuple[str, ...] = (), chart: ChartSpec | None = None) -> None:
        """``fields``: status fields the nodes table shows in columns of their own; ``chart``:
        the count the lab charts over time, if any (the model samples it: give the model the
        same ``chart``)."""
        super().__init__()
        self.fields = fields
        self.chart = chart
        self._model: ClusterModel | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield NodesTable(fields=self.fields)
            with Vertical(id="side"):
                yield NetworkPanel()
                if self.chart is not None:
                    yield CountChart(self.chart)
        with Horizontal(id="middle"):
            yield SpaceTime()
            yield EventLog()

    def show(self, model: ClusterModel, *, follow: bool = False) -> None:
        """``follow``: the event log scrolls to the newest event even if the student scrolled it
        up (a replay's cursor moved: that event is the one to see)."""
        # The nodes table and the network panel side by side, both as tall as the taller one.
        table = self.query_one(NodesTable)
        table.show(model)
        nodes = table.row_count + TABLE_CHROME
        network = NETWORK_ROWS + len(model.faults.overrides) + 2
        if self.chart is not None:
            network += CountChart.HEIGHT
            self.query_one(CountChart).show(model)
        # A tall screen gives the nodes table more rows (lab 5's fleet and its booting rows).
        limit = max(TOP_BAND_MAX, self.size.height - MIDDLE_BAND_MIN)
        self.query_one("#top").styles.height = min(limit, max(nodes, network))
        self._model = model
        self.query_one(SpaceTime).show(model, selected=table.selected_node)
        self.query_one(EventLog).show(model, follow=follow)
        self.query_one(NetworkPanel).show(model)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Another node selected: its lane label stands out at once, not at the next event (a
        # replay redraws only when its cursor moves).
        if self._model is not None and event.data_table is self.query_one(NodesTable):
            self.query_one(SpaceTime).show(self._model, selected=event.data_table.selected_node)
