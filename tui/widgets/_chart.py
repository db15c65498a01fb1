"""The chart: a count over the run's time, as a lab declares it (lab.toml ``[tui.chart]``).

Lab 5 charts its fleet, the length of the cloud's ``instances``::

    ╭─ instances ────────────────╮
    │       ▅████████████▅▃      │
    │ ▅▅▅▅██████████████████▅▅▅▅ │
    │ 2 → 6 → 2, now 2           │
    ╰───────────────────── 33 s ─╯

The model samples the count every ``CHART_STEP`` seconds of the run's clock (``model.series``);
the bars span the whole run, from 0 to the largest value (a fleet of 2 is a third of one of 6),
one column per sample, or per group of samples (the largest of each) once there are more samples
than columns. Under them, the count's story in words: where it started, its extremes in the
order they came (so the least and the most), and what it is now. ``draw_chart`` and
``chart_words`` are the pure drawing; the lab shows no chart unless it declares one.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.widget import Widget

from distlab._describe import for_people
from distlab.tui._model import CHART_STEP, ClusterModel

if TYPE_CHECKING:
    from distlab._labs import ChartSpec

BARS = "▁▂▃▄▅▆▇█"  # one to eight eighths of a row
CHART_ROWS = 2  # rows of bars


def draw_chart(series: Sequence[float | None], width: int, rows: int = CHART_ROWS) -> list[str]:
    """``rows`` lines of ``width`` characters or fewer (one column per sample while they fit):
    bars from 0 up to the largest value; a column with no value (or 0) is blank."""
    if width < 1 or rows < 1:
        return [""] * max(rows, 0)
    columns = _columns(series, width)
    top = max((v for v in columns if v is not None), default=0.0) or 1.0
    eighths = [0 if v is None or v <= 0 else max(1, round(v / top * rows * 8)) for v in columns]
    lines = []
    for row in reversed(range(rows)):  # the top row first
        low = row * 8  # eighths below this row
        lines.append(
            "".join(
                " " if e <= low else "█" if e >= low + 8 else BARS[e - low - 1] for e in eighths
            )
        )
    return lines


def _columns(series: Sequence[float | None], width: int) -> list[float | None]:
    """One value per column: each sample while they fit, else the largest of each group."""
    if len(series) <= width:
        return list(series)
    step = Fraction(len(series), width)
    columns = []
    for i in range(width):
        known = [v for v in series[int(step * i) : int(step * (i + 1))] if v is not None]
        columns.append(max(known) if known else None)
    return columns


def chart_words(series: Sequence[float | None], now: float | None) -> str:
    """The count's story: ``2 → 6 → 2, now 3`` (from 2 up to 6, down to 2, and now 3).

    The start, then the extreme it reached first (the most, or the least), then the opposite
    extreme after it: both the least and the most are always there. ``now`` is the count now
    (the last sample if None).
    """
    known = [(i, v) for i, v in enumerate(series) if v is not None]
    if now is None and known:
        now = known[-1][1]
    now_words = f"now {for_people(now)}" if now is not None else "no value yet"
    if not known:
        return now_words
    first = known[0][1]
    values = [v for _, v in known]
    high, low = max(values), min(values)
    i_high, i_low = values.index(high), values.index(low)
    points = [first]
    if high != first and (low == first or i_high < i_low):
        points += [high, min(values[i_high:])]  # up first, then down
    elif low != first:
        points += [low, max(values[i_low:])]  # down first, then up
    if len(points) == 3 and points[2] == points[1]:
        points.pop()
    if len(points) == 1:
        return (
            f"{for_people(first)} all along"
            if now == first
            else f"{for_people(first)}, {now_words}"
        )
    return " → ".join(map(for_people, points)) + f", {now_words}"


class CountChart(Widget):
    """A count over the run's time (``[tui.chart]``): bars, then the count's story in words.

    ``show(model)`` takes the model's samples (``model.series``) and the count now; it redraws
    only when they changed.
    """

    BINDINGS: ClassVar[list[BindingType]] = []  # nothing to press: it only shows
    DEFAULT_CSS = f"""
    CountChart {{
        height: {CHART_ROWS + 3};
        border: round $primary 60%;
        border-title-align: left;
        border-subtitle-align: right;
        padding: 0 1;
    }}
    CountChart > .chart--bars {{ color: $accent; }}
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"chart--bars"}
    #: rows the chart takes in a layout, its border included
    HEIGHT = CHART_ROWS + 3

    def __init__(
        self, spec: ChartSpec, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.spec = spec
        self.border_title = spec.title
        self._series: Sequence[float | None] = ()
        self._now: float | None = None
        self._shown: tuple[int, int, float | None] | None = None

    def show(self, model: ClusterModel) -> None:
        shown = (id(model.series), len(model.series), model.chart_value())
        if shown == self._shown:
            return
        self._shown = shown
        self._series, self._now = model.series, model.chart_value()
        self.border_subtitle = f"{len(self._series) * CHART_STEP:g} s"
        self.refresh()

    @property
    def words(self) -> str:
        return chart_words(self._series, self._now)

    def render(self) -> Text:
        width = self.content_size.width
        bars = "\n".join(draw_chart(self._series, width))
        words = self.words
        if len(words) > width:
            words = words[: max(width - 1, 0)] + "…"
        return Text.assemble((bars, self.get_component_rich_style("chart--bars")), "\n", words)
