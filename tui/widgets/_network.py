"""The network panel: the faults in force, the partitions, and what the network did so far.

Sized for 80-column screens: about 26 columns of text, six rows (more with per-link faults).
Each row stays on its line, however large the counts: the panel's height is counted in rows
(``ClusterPanes``), so a row that wrapped would push the last one out of sight. A row that does
not fit is told more briefly (``1.2M`` for 1,234,567, ``deliv`` for ``delivered``).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from distlab.tui._model import ClusterModel

TEXT_WIDTH = 26  # the panel's text: its 30 columns less the border and the padding
LABEL_WIDTH = 6  # the widest label ("failed", "copies"), and the space after it


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g} ms"


def compact(n: int) -> str:
    """A count in at most four characters: exact below 10,000, then rounded to 3 figures at most.

    >>> [compact(n) for n in (9999, 12_345, 999_499, 999_500, 1_234_567, 98_765_432)]
    ['9999', '12k', '999k', '1.0M', '1.2M', '99M']
    """
    if n < 10_000:
        return str(n)
    value = float(n)
    for unit in "kMGT":
        value /= 1000
        if round(value, 1) < 10:
            return f"{value:.1f}{unit}"
        if round(value) < 1000:
            return f"{value:.0f}{unit}"
    return f"{value:.0f}T"


def _count(n: int, style: str = "", *, short: bool = False) -> Text:
    return Text(compact(n) if short else str(n), f"bold {style}".strip() if n else "")


def _fitting(variants: Sequence[Text], room: int) -> Text:
    """The first variant (the most precise) that fits in ``room`` columns; the last one, ended by
    an ellipsis if it does not fit either: never a second line."""
    for text in variants:
        if text.cell_len <= room:
            return text
    last = variants[-1].copy()
    last.no_wrap, last.overflow = True, "ellipsis"
    return last


def _counters(model: ClusterModel, room: int) -> list[tuple[str, Text]]:
    totals = model.totals
    sent, deliver, drop = totals["send"], totals["deliver"], totals["drop"]
    lost, duplicate = totals["lost"], totals["duplicate"]
    return [
        (
            "sent",
            _fitting(
                [
                    Text.assemble(
                        _count(sent, short=short), "  delivered ", _count(deliver, short=short)
                    )
                    for short in (False, True)
                ]
                + [
                    Text.assemble(_count(sent, short=True), "  deliv ", _count(deliver, short=True))
                ],
                room,
            ),
        ),
        (
            "failed",
            _fitting(
                [
                    Text.assemble(
                        _count(drop, "yellow", short=short),
                        " dropped, ",
                        _count(lost, "red", short=short),
                        " lost",
                    )
                    for short in (False, True)
                ]
                + [
                    Text.assemble(
                        _count(drop, "yellow", short=True),
                        separator,
                        _count(lost, "red", short=True),
                        " lost",
                    )
                    for separator in (" drop, ", " drop ")
                ],
                room,
            ),
        ),
        (
            "copies",
            _fitting(
                [
                    Text.assemble(_count(duplicate, "cyan", short=short), " duplicated")
                    for short in (False, True)
                ],
                room,
            ),
        ),
    ]


def network_table(model: ClusterModel, width: int = TEXT_WIDTH) -> Table:
    """Faults, cuts and totals as label/value rows (a rich table without borders), in ``width``
    columns: the counts shorten (1.2M) rather than wrap."""
    room = max(1, width - LABEL_WIDTH - 1)  # the values' column
    faults = model.faults.default
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    spread = "" if faults.distribution == "uniform" else f" {faults.distribution}"
    delay = f"{_ms(faults.delay)} ± {_ms(faults.jitter)}"
    table.add_row("delay", _fitting([Text(delay + spread), Text(delay + spread[:4])], room))
    table.add_row(
        "drop",
        Text.assemble(
            (f"{faults.drop:g}", "bold yellow" if faults.drop else ""),
            f"  dup {faults.duplicate:g}",
            f"  reorder {faults.reorder:g}" if faults.reorder else "",
        ),
    )
    for (src, dest), link in model.faults.overrides:
        table.add_row("link", f"{src}->{dest}: {link.describe()}")
    cuts = [cut.describe() for cut in model.faults.cuts]
    table.add_row("cuts", Text("; ".join(cuts), "bold magenta") if cuts else Text("none", "dim"))
    for label, value in _counters(model, room):
        table.add_row(label, value)
    return table


class NetworkPanel(Static):
    """The network of a ``ClusterModel``: ``show(model)`` redraws it."""

    DEFAULT_CSS = """
    NetworkPanel {
        width: 30;
        height: auto;
        border: round $primary 60%;
        border-title-align: left;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "network"
        self._shown: tuple[int, int] | None = None  # (id of the model, last seq)

    def show(self, model: ClusterModel) -> None:
        shown = (id(model), model.last_seq)
        if shown != self._shown:
            self._shown = shown
            if model.seed is not None:
                self.border_title = f"network · seed {model.seed}"
            rate = compact(round(model.messages_per_second()))
            self.border_subtitle = f"{rate} msg/s · t={model.now:.1f} s"
            self.update(network_table(model, self.content_size.width or TEXT_WIDTH))
