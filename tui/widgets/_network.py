"""The network panel: the faults in force, the partitions, and what the network did so far.

Sized for 80-column screens: about 26 columns of text, six rows (more with per-link faults).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui._model import ClusterModel


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g} ms"


def _count(n: int, style: str = "") -> Text:
    return Text(str(n), f"bold {style}".strip() if n else "")


def network_table(model: ClusterModel) -> Table:
    """Faults, cuts and totals as label/value rows (a rich table without borders), ~26 columns."""
    faults = model.faults.default
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    spread = "" if faults.distribution == "uniform" else f" {faults.distribution}"
    table.add_row("delay", f"{_ms(faults.delay)} ± {_ms(faults.jitter)}{spread}")
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
    totals = model.totals
    table.add_row(
        "sent", Text.assemble(_count(totals["send"]), "  delivered ", _count(totals["deliver"]))
    )
    table.add_row(
        "failed",
        Text.assemble(
            _count(totals["drop"], "yellow"), " dropped, ", _count(totals["lost"], "red"), " lost"
        ),
    )
    table.add_row("copies", Text.assemble(_count(totals["duplicate"], "cyan"), " duplicated"))
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
            self.border_subtitle = f"{model.messages_per_second():.0f} msg/s · t={model.now:.1f} s"
            self.update(network_table(model))
