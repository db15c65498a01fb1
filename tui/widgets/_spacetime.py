"""The space-time view: one lane per node, and recent messages drawn between lanes, newest last.

Each row is one message copy, from its sender's lane to its destination's::

    ●──────▶   delivered            ●┄┄┄┄┄›   in flight (dim)
    ●──✗       dropped by the network ●──────✗   lost (the destination was down)
    ●══════▶   a duplicate copy (its label says "dup")

The marks carry the meaning without colour; colour only adds to it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui._model import ClusterModel, MessageLine

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


def _header(names: list[str], positions: list[int], width: int, model: ClusterModel) -> Text:
    cells = [" "] * width
    styles: list[str] = [""] * width
    share = max(1, width // max(1, len(names)))
    for name, x in zip(names, positions, strict=True):
        label = short_name(name, max(1, share - 1))
        start = max(0, min(width - len(label), x - len(label) // 2))
        style = "bold red" if model.nodes[name].state == "crashed" else "bold"
        for i, char in enumerate(label):
            cells[start + i] = char
            styles[start + i] = style
    return _assemble(cells, styles)


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


def draw_space_time(model: ClusterModel, width: int, height: int) -> Text:
    """The whole view at ``width`` x ``height``: a header of node names, then one message a row."""
    names = model.names
    if not names:
        return Text("no nodes yet", "dim")
    timed = width >= MIN_TIMED_WIDTH
    area = max(len(names), width - LABEL_WIDTH - (TIME_WIDTH if timed else 0))
    positions = lane_positions(len(names), area)
    lanes = dict(zip(names, positions, strict=True))
    rows = [(Text(" " * TIME_WIDTH) if timed else Text()) + _header(names, positions, area, model)]
    # Messages naming a node outside the lanes (a grader's client) have no lane to be drawn in.
    drawable = [m for m in model.messages if m.src in lanes and m.dest in lanes]
    for message in drawable[-max(0, height - 1) :] if height > 1 else []:
        row = Text(f"{message.t:>{TIME_WIDTH - 1}.3f} ", "dim") if timed else Text()
        row.append_text(draw_message(message, lanes, area))
        row.append_text(_label(message))
        rows.append(row)
    if len(rows) == 1:
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
        self._drawn: tuple[int, int, int, int] | None = None  # (id, last_seq, width, height)

    def show(self, model: ClusterModel) -> None:
        self._model = model
        width, height = self.content_size
        if not (width and height):
            width, height = FALLBACK_SIZE
        drawn = (id(model), model.last_seq, width, height)
        if drawn == self._drawn:  # nothing new: skip the redraw
            return
        self._drawn = drawn
        # Drawn to the size the layout gave it: its content never changes that size, so the
        # redraw needs no layout pass (a large part of a redraw's cost flat out).
        self.update(draw_space_time(model, width, height), layout=False)

    def on_resize(self) -> None:
        if self._model is not None:
            self.show(self._model)
