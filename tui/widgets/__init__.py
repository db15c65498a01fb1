"""The TUI's widgets, shared by the live app (``tui.app``) and the replay screen (``tui.replay``).

Every view is redrawn from a ``tui._model.ClusterModel`` and from nothing else::

    model = ClusterModel()
    model.apply_all(events)
    for view in (nodes, space_time, event_log, network):
        view.show(model)

``show(model)`` is cheap to call often (the live app calls it about 15 times a second): each view
redraws only what changed since its last call. Any model may be passed at any time: a different
model object, or one whose ``last_seq`` went back (a replay stepping backwards), is shown
correctly; the event log then rewrites itself from scratch.

- ``NodesTable``: a ``DataTable``, one row per node (state, published status, counters). The
  highlighted row is the selected node: ``nodes.selected_node`` (a name, or None); the first
  node is selected at start; arrow keys and the mouse move it when the table has the focus.
  A lab's parts (``[tui.parts]``) show in the state column (``up · in service``), and names
  that are no node (``booting``, ``terminated``) as dim rows (``model.rows()``).
- ``SpaceTime``: one lane per node, one row per recent message copy (delivered, in flight,
  dropped, lost, duplicate). ``draw_space_time(model, width, height)`` is the pure drawing.
  Lane labels are names shortened to fit (``rep-1``, ``r1``), on two staggered rows when one
  row would no longer tell nodes apart; the node selected in the nodes table stands out.
- ``EventLog``: recent events in words under a filter line. ``set_filter("client -timer")``
  filters from code, ``focus_filter()`` lets the student type one (Enter/Escape leave it).
  While the log is scrolled up it holds still, and catches up when scrolled to the end;
  ``show(model, follow=True)`` (the replay's cursor moved) scrolls to the newest event anyway,
  from its first line. ``EventFilter`` is the pure filter.
- ``NetworkPanel``: the faults in force, partitions, message totals and rate; large counts
  shorten (``1.2M``) so that no row wraps.
- ``CountChart(spec)``: a count over the run's time, as bars and in words (``2 → 6 → 2, now 3``),
  for a lab that declares a chart (lab.toml ``[tui.chart]``); ``draw_chart`` and
  ``chart_words`` are the pure drawing. The model samples the count (``model.series``).
- ``HelpScreen(bindings, extra=...)``: a modal listing keys; any key closes it.
- ``ClusterPanes``: the four views above laid out as both screens show them (and the chart
  under the network panel, if the lab has one);
  ``panes.show(model)`` redraws them all (``follow=True``: as the event log's).
- ``KeysFooter()``: Textual's ``Footer`` on two rows, so that every binding fits in 80 columns.

Each widget's CSS is beside it (``DEFAULT_CSS``); they all draw a rounded border with a title.
"""

from ._chart import CountChart, chart_words, draw_chart
from ._eventlog import EventFilter, EventLog
from ._help import HelpScreen, KeysFooter
from ._network import NetworkPanel
from ._nodes import NodesTable
from ._panes import ClusterPanes
from ._spacetime import SpaceTime, draw_space_time

__all__ = [
    "ClusterPanes",
    "CountChart",
    "EventFilter",
    "EventLog",
    "HelpScreen",
    "KeysFooter",
    "NetworkPanel",
    "NodesTable",
    "SpaceTime",
    "chart_words",
    "draw_chart",
    "draw_space_time",
]
