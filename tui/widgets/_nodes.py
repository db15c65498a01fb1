"""The nodes table: every node with its state, what it publishes, and its message counters.

The highlighted row is the *selected node*, the one the app's node keys act on. A marker column
shows it too, so that the selection is visible without colour.

A lab may name status fields worth a column of their own (lab.toml ``[tui] columns``: a
replica's ``role`` and ``term``, a queue's ``depth``): they stay in view, lined up across nodes,
instead of scrolling past in the truncated status column.

A lab may also declare *parts* (lab.toml ``[tui.parts]``): the part a node is in, as the node that
decides it publishes it (``"in service" = "lb.in_service"``). The state column then says both,
``up · in service``: the node's own state, and its part. A name a part lists that is no node yet
(an instance the cloud is booting) is a dim row whose state is that part (``booting``); a
terminated node stays a dim row, ``terminated``, for a moment (``TERMINATED_SHOWN`` seconds of
the run's clock), and as long as a part still lists it (``terminated · draining``).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from distlab._describe import for_people
from distlab.tui._model import ClusterModel, NodeView

#: How each state is styled; the words alone carry the meaning (no colour needed).
STATE_STYLES = {
    "up": "green",
    "crashed": "bold red",
    "paused": "bold blue",
    "hung": "bold red reverse",
    "cut off": "bold magenta",
    "starting": "dim",
    "stopped": "dim",
    "terminated": "dim",
}
PART_STYLE = "cyan"  # a node's part (lab.toml [tui.parts]), after its state
GHOST_STYLE = "dim"  # a row that is no node: not yet one (booting), or no longer (terminated)
SELECTED_MARK = "▶"
STATUS_LIMIT = 60  # characters of published status shown (the log has all of it)
FIELD_LIMIT = 16  # characters of a status field shown in a column of its own
FIELD_PREFIX = "field:"  # column keys of status fields, apart from the table's own columns

#: (column key, heading), in order; the role column only when names do not already say it.
#: What the student's code publishes comes before the counters: in a narrow pane it matters more.
COLUMNS = (
    ("node", "node"),
    ("role", "role"),
    ("state", "state"),
    ("status", "status"),
    ("sent", "sent"),
    ("received", "recv"),
    ("crashes", "crash"),
)
STATUS_AT = 3  # the lab's own status columns go in front of the status


def status_words(fields: dict[str, Any], *, leave_out: tuple[str, ...] = ()) -> str:
    text = " ".join(
        f"{key}={_compact(value)}" for key, value in fields.items() if key not in leave_out
    )
    return _clipped(text, STATUS_LIMIT)


def _compact(value: Any) -> str:
    """Lists without quotes and spaces: ``healthy=[judge-1,judge-3]`` fits where repr does not;
    floats rounded for people (``expires=4.997``)."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(for_people, value)) + "]"
    return for_people(value)


def field_words(value: Any) -> str:
    """A status field's value in a cell: ``-`` for none, lists without brackets."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(map(for_people, value)) or "-"
    return _clipped(for_people(value), FIELD_LIMIT)


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def role_is_in_name(node: NodeView) -> bool:
    """``server`` of role server, ``worker-2`` of role worker: a role column would repeat it."""
    return node.name == node.role or node.name.startswith(f"{node.role}-") or not node.role


def name_cell(node: NodeView, *, selected: bool, ghost: bool = False) -> Text:
    """``ghost``: a row that is no node (booting, terminated): dim."""
    mark = SELECTED_MARK if selected else " "
    style = GHOST_STYLE if ghost else "bold red" if node.state == "crashed" else "bold"
    return Text(f"{mark} {node.name}", style)


def state_cell(state: str, part: str | None) -> Text:
    """``up · in service``: the node's state, then its part if it has one that says more."""
    cell = Text(state, STATE_STYLES.get(state, ""))
    if part and part != state:
        cell.append(" · ").append(part, PART_STYLE)
    return cell


def node_cells(
    model: ClusterModel,
    node: NodeView,
    *,
    fields: tuple[str, ...] = (),
    part: str | None = None,
) -> dict[str, Text]:
    """The table cells of one row but its name, by column key (``fields``: status columns;
    ``part``: its part, from ``model.parts``). A row that is no node is dim."""
    if node.name not in model.nodes:
        return _ghost_cells(node, fields=fields, part=part)
    state = model.shown_state(node.name)
    status = Text(status_words(node.status, leave_out=fields))
    if node.state in ("crashed", "hung") and node.last_crash:
        # Why it crashed matters more, while it is down, than what it last published.
        status = Text.assemble((node.last_crash, "red"), " ", status)
        status.truncate(STATUS_LIMIT, overflow="ellipsis")
    cells = {
        "role": Text(node.role),
        "state": state_cell(state, part),
        "sent": Text(str(node.sent), justify="right"),
        "received": Text(str(node.received), justify="right"),
        "crashes": Text(str(node.crashes), "red" if node.crashes else "", justify="right"),
    }
    for name in fields:
        value = node.status.get(name)
        cells[FIELD_PREFIX + name] = Text("" if name not in node.status else field_words(value))
    cells["status"] = status
    return cells


def _ghost_cells(node: NodeView, *, fields: tuple[str, ...], part: str | None) -> dict[str, Text]:
    """A booting name (its state is its part) or a terminated node (its last counters)."""
    counters = node.state == "terminated"
    cells = {
        "role": Text(node.role, GHOST_STYLE),
        "state": state_cell(node.state, part),
        "sent": Text(str(node.sent) if counters else "", GHOST_STYLE, justify="right"),
        "received": Text(str(node.received) if counters else "", GHOST_STYLE, justify="right"),
        "crashes": Text(str(node.crashes) if counters else "", GHOST_STYLE, justify="right"),
        "status": Text(""),
    }
    cells["state"].stylize(GHOST_STYLE)
    for name in fields:
        cells[FIELD_PREFIX + name] = Text("")
    return cells


def same_cell(a: Text, b: Text) -> bool:
    # Text's own == ignores the base style: a node's name turns red on a crash, same words.
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


class NodesTable(DataTable[Text]):
    """One row per node; the highlighted row is the selected node (the first one at start).

    ``show(model)`` updates the rows from a ``ClusterModel``; ``selected_node`` is the name of the
    highlighted row's node (a mark in front of the name shows it without colour). Arrow keys and
    the mouse move the selection when the table has the focus. ``fields`` are status fields shown
    in columns of their own, just before the rest of the status.
    """

    DEFAULT_CSS = """
    NodesTable {
        height: auto;
        border: round $primary 60%;
        border-title-align: left;
        &:focus { border: round $primary; }
    }
    """

    def __init__(
        self, *, fields: tuple[str, ...] = (), id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(cursor_type="row", id=id, classes=classes)
        self.border_title = "nodes"
        self.fields = fields
        self._shown: dict[str, dict[str, Text]] = {}
        self._with_role: bool | None = None  # decided when the first nodes are shown

    @property
    def selected_node(self) -> str | None:
        if not self._shown or not 0 <= self.cursor_row < self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def show(self, model: ClusterModel) -> None:
        """Make the rows match the model: add, update and remove rows as needed."""
        parts = model.parts
        rows = {node.name: node for node in model.rows(parts)}
        with_role = not all(role_is_in_name(node) for node in rows.values())
        if with_role != self._with_role or any(n not in rows for n in self._shown):
            self._rebuild(model, with_role)  # rare: the columns change, a row goes, replay
            return
        selected = self.selected_node
        for name, node in rows.items():
            cells = node_cells(model, node, fields=self.fields, part=parts.get(name))
            shown = self._shown.get(name)
            if shown is None:
                self._add(node, cells, selected=not self._shown, ghost=name not in model.nodes)
                continue
            # Only changed cells: a full redraw at 15 Hz would waste the frame budget.
            for key, cell in cells.items():
                if key in self._columns_shown and not same_cell(cell, shown[key]):
                    self.update_cell(name, key, cell, update_width=True)
            name_now = name_cell(node, selected=name == selected, ghost=name not in model.nodes)
            if not same_cell(name_now, shown["node"]):
                self.update_cell(name, "node", name_now, update_width=True)
                cells["node"] = name_now
            self._shown[name] = {**cells, "node": name_now}

    @property
    def _columns(self) -> list[tuple[str, str]]:
        """(key, heading) of every column, the lab's status fields just before the status."""
        fields = [(FIELD_PREFIX + name, name) for name in self.fields]
        return [*COLUMNS[:STATUS_AT], *fields, *COLUMNS[STATUS_AT:]]

    @property
    def _columns_shown(self) -> list[str]:
        return [key for key, _ in self._columns if key != "role" or self._with_role]

    def _rebuild(self, model: ClusterModel, with_role: bool) -> None:
        selected = self.selected_node
        self.clear(columns=True)
        self._shown.clear()
        self._with_role = with_role
        for key, heading in self._columns:
            if key in self._columns_shown:
                self.add_column(heading, key=key)
        parts = model.parts
        rows = model.rows(parts)
        for node in rows:
            cells = node_cells(model, node, fields=self.fields, part=parts.get(node.name))
            self._add(node, cells, selected=False, ghost=node.name not in model.nodes)
        names = [node.name for node in rows]
        self.move_cursor(row=names.index(selected) if selected in names else 0)
        self._mark(self.selected_node)

    def _add(
        self, node: NodeView, cells: dict[str, Text], *, selected: bool, ghost: bool = False
    ) -> None:
        name = name_cell(node, selected=selected, ghost=ghost)
        self.add_row(
            *(name if key == "node" else cells[key] for key in self._columns_shown), key=node.name
        )
        self._shown[node.name] = {**cells, "node": name}

    def _mark(self, selected: str | None) -> None:
        for name, cells in self._shown.items():
            old = cells["node"]
            mark = SELECTED_MARK if name == selected else " "
            new = Text(mark + old.plain[1:], old.style)
            if not same_cell(new, old):
                self.update_cell(name, "node", new)
                cells["node"] = new

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._mark(event.row_key.value)
