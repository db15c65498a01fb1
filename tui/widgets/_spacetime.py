"""The space-time view: one lane per node, and recent messages drawn between lanes, newest last.

Each row is one message copy, from its sender's lane to its destination's::

    ●──────▶   delivered            ●┄┄┄┄┄›   in flight (dim)
    ●──✗       dropped by the network ●──────✗   lost (the destination was down)
    ●══════▶   a duplicate copy (its label says "dup")

The marks carry the meaning without colour; colour only adds to it.

Above the lanes, each node's name, shortened to fit its lane (``replica-1``, ``rep-1``, ``r1``).
When the lanes are too close for one row of labels that still tell nodes apart (seven nodes at
80 columns), the labels alternate between two rows, which doubles their room::

    re-1 re-3 re-5 cl-2
     │re-2│re-4 cl-1 │
     │  ●───────▶ │  │  request_vote
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from distlab.tui._model import ClusterModel, MessageLine

LABEL_WIDTH = 11  # the message type (and "dup") after the lanes
TIME_WIDTH = 8  # "  12.345": the send time, before the lanes, when there is room
MIN_TIMED_WIDTH = 56  # narrower than this, the time column is left out
FALLBACK_SIZE = (40, 20)  # before the first layout

FATE_STYLES = {
    "delivered": "",
    "in flight": "dim",
    "dropped": "yellow",
    "lost": "red",
}


def lane_positions(count: int, width: int) -> list[int]:
    """The column of each lane's line: lanes spread evenly, each centred in its share."""
    if count == 0:
        return []
    share = width / count
    return [int(share * i + share / 2) for i in range(count)]


def short_name(name: str, room: int) -> str:
    """``name`` in at most ``room`` columns, keeping a ``-N`` suffix, which tells nodes of one
    role apart: ``worker-12`` -> ``wo-12``, ``w12``, then ``12``.

    >>> [short_name("replica-3", room) for room in (9, 5, 2, 1)]
    ['replica-3', 'rep-3', 'r3', '3']
    """
    room = max(1, room)
    if len(name) <= room:
        return name
    head, dash, tail = name.rpartition("-")
    if not (dash and head):
        return name[:room]
    if room >= len(tail) + 2:
        return f"{head[: room - len(tail) - 1]}-{tail}"
    if room == len(tail) + 1:
        return f"{head[0]}{tail}"
    return tail[-room:]


def short_type(msg_type: str, room: int) -> str:
    """A message type in at most ``room`` columns, shortened word by word (the longest word
    first, to three letters at least) rather than cut off: ``request_vote`` -> ``req_vote`` in 8.

    >>> short_type("request_vote_reply", 12), short_type("heartbeat_ack", 10)
    ('req_vot_repl', 'heartb_ack')
    """
    words = msg_type.split("_")
    while len("_".join(words)) > room:
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        if len(words[longest]) <= 3:
            break
        words[longest] = words[longest][:-1]
    return "_".join(words)[:room]


def label_room(positions: list[int], width: int, stride: int) -> int:
    """Columns for each lane's label when every ``stride``-th lane's label shares a header row:
    the closest two labels of a row keep a space between them."""
    gaps = [b - a for a, b in zip(positions, positions[stride:], strict=False)]
    return max(1, min(gaps) - 1) if gaps else width


def _starts(labels: list[str], positions: list[int], width: int, rows: int) -> list[int] | None:
    """Where each label starts: centred over its lane, moved right (never off its lane) to keep
    a space after the previous label of its row; None if they do not fit so."""
    starts = [
        max(0, min(width - len(s), x - len(s) // 2)) for s, x in zip(labels, positions, strict=True)
    ]
    for i in range(rows, len(labels)):
        starts[i] = max(starts[i], starts[i - rows] + len(labels[i - rows]) + 1)
    if any(
        not start <= x < start + len(label) or start + len(label) > width
        for start, x, label in zip(starts, positions, labels, strict=True)
    ):
        return None
    return starts


def lane_labels(names: list[str], positions: list[int], width: int) -> list[tuple[int, int, str]]:
    """Each lane's label, as (header row, first column, label).

    One row if every name, shortened to fit (``short_name``), is still told apart and keeps its
    first letter (``r1 r2 … c1 c2``); else two rows, lanes alternating between them, which gives
    each label about twice the room (``re-1``, ``cl-2``): a bare ``1 2 3 4 5 1 2`` names no node.
    """
    fallback: list[tuple[int, int, str]] | None = None
    for rows in (1, 2):
        for room in range(label_room(positions, width, rows), 0, -1):
            labels = [short_name(name, room) for name in names]
            starts = _starts(labels, positions, width, rows)
            if starts is None:  # too long to be placed apart: shorter
                continue
            placed = [
                (i % rows, start, label)
                for i, (start, label) in enumerate(zip(starts, labels, strict=True))
            ]
            fallback = fallback or placed
            if len(set(labels)) == len(labels) and all(
                label[:1] == name[:1] for name, label in zip(names, labels, strict=True)
            ):
                return placed
            break  # shorter still would tell them apart even less
    # Lanes too close for any label to keep a space: a character each.
    return fallback or [
        (0, x, short_name(name, 1)) for name, x in zip(names, positions, strict=True)
    ]


def _header(
    names: list[str], positions: list[int], width: int, model: ClusterModel, selected: str | None
) -> list[Text]:
    placed = lane_labels(names, positions, width)
    rows = max(row for row, _, _ in placed) + 1
    cells = [[" "] * width for _ in range(rows)]
    styles: list[list[str]] = [[""] * width for _ in range(rows)]
    for name, (row, start, label) in zip(names, placed, strict=True):
        style = "bold red" if model.nodes[name].state == "crashed" else "bold"
        if name == selected:  # the node selected in the nodes table, which shows its full name
            style += " reverse"
        for i, char in enumerate(label):
            cells[row][start + i], styles[row][start + i] = char, style
    # Below a label of the upper row, its lane goes on down to the messages.
    for x, (row, _, _) in zip(positions, placed, strict=True):
        for lower in range(row + 1, rows):
            if cells[lower][x] == " ":
                cells[lower][x], styles[lower][x] = "│", "dim"
    return [_assemble(c, s) for c, s in zip(cells, styles, strict=True)]


def _assemble(cells: list[str], styles: list[str]) -> Text:
    text = Text()
    for char, style in zip(cells, styles, strict=True):
        text.append(char, style)
    return text


def draw_message(message: MessageLine, lanes: dict[str, int], width: int) -> Text:
    """One message as one row of the lanes area (``width`` columns)."""
    cells = [" "] * width
    styles = [""] * width
    for x in lanes.values():
        cells[x] = "│"
        styles[x] = "dim"
    style = FATE_STYLES.get(message.fate, "")
    src, dest = lanes[message.src], lanes[message.dest]
    if src == dest:
        cells[src], styles[src] = "↺", style
        return _assemble(cells, styles)
    step = 1 if dest > src else -1
    line = "═" if message.copy else ("┄" if message.fate == "in flight" else "─")
    end = dest  # where the line stops and the mark goes
    if message.fate == "dropped":
        end = src + step * max(1, abs(dest - src) // 2)
    for x in range(src + step, end, step):
        cells[x], styles[x] = line, style
    cells[src], styles[src] = "●", style
    if message.fate in ("dropped", "lost"):
        cells[end], styles[end] = "✗", f"bold {style}"
    elif message.fate == "in flight":
        cells[end], styles[end] = ("›" if step > 0 else "‹"), style
    else:
        cells[end], styles[end] = ("▶" if step > 0 else "◀"), style
    return _assemble(cells, styles)


def _label(message: MessageLine) -> Text:
    dup = " dup" if message.copy else ""
    words = short_type(message.type, LABEL_WIDTH - 1 - len(dup)) + dup
    style = FATE_STYLES.get(message.fate, "")
    if message.copy:
        style = f"{style} cyan".strip()
    return Text(f" {words}", style)


def draw_space_time(
    model: ClusterModel, width: int, height: int, *, selected: str | None = None
) -> Text:
    """The whole view at ``width`` x ``height``: a header of node names (two rows when names
    need the room), then one message a row. ``selected``: a node whose label stands out."""
    names = model.names
    if not names:
        return Text("no nodes yet", "dim")
    timed = width >= MIN_TIMED_WIDTH
    area = max(len(names), width - LABEL_WIDTH - (TIME_WIDTH if timed else 0))
    positions = lane_positions(len(names), area)
    lanes = dict(zip(names, positions, strict=True))
    margin = Text(" " * TIME_WIDTH) if timed else Text()
    header = [margin + row for row in _header(names, positions, area, model, selected)]
    rows = list(header)
    # Messages naming a node outside the lanes (a grader's client) have no lane to be drawn in.
    drawable = [m for m in model.messages if m.src in lanes and m.dest in lanes]
    room = height - len(header)
    for message in drawable[-room:] if room > 0 else []:
        row = Text(f"{message.t:>{TIME_WIDTH - 1}.3f} ", "dim") if timed else Text()
        row.append_text(draw_message(message, lanes, area))
        row.append_text(_label(message))
        rows.append(row)
    if len(rows) == len(header):
        rows.append(Text("no messages yet", "dim"))
    return Text("\n").join(rows)


class SpaceTime(Static):
    """The space-time view of a ``ClusterModel``: ``show(model)`` redraws it to fit the widget."""

    DEFAULT_CSS = """
    SpaceTime {
        height: 1fr;
        border: round $primary 60%;
        border-title-align: left;
        overflow: hidden;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "messages"
        self._model: ClusterModel | None = None
        self._selected: str | None = None
        #: (id of the model, last seq, width, height, selected node) of the last drawing
        self._drawn: tuple[int, int, int, int, str | None] | None = None

    def show(self, model: ClusterModel, *, selected: str | None = None) -> None:
        """Draw ``model``; ``selected``: the node selected in the nodes table, whose lane label
        stands out (the label may be shortened: the table has the full name)."""
        self._model, self._selected = model, selected
        width, height = self.content_size
        if not (width and height):
            width, height = FALLBACK_SIZE
        drawn = (id(model), model.last_seq, width, height, selected)
        if drawn == self._drawn:  # nothing new: skip the redraw
            return
        self._drawn = drawn
        # Drawn to the size the layout gave it: its content never changes that size, so the
        # redraw needs no layout pass (a large part of a redraw's cost flat out).
        self.update(draw_space_time(model, width, height, selected=selected), layout=False)

    def on_resize(self) -> None:
        if self._model is not None:
            self.show(self._model, selected=self._selected)
