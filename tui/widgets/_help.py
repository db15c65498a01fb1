"""How the keys are shown: a footer that fits every binding in 80 columns, and the help screen."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rich.table import Table
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Footer, Static

FOOTER_ROWS = 2


class KeysFooter(Footer):
    """Textual's footer on a grid of two rows, so that every binding shows at 80 columns.

    Textual's footer is one row that scrolls sideways: at 80 columns a dozen bindings would
    hide the last ones. Keep each binding's description short (about 8 characters).
    """

    DEFAULT_CSS = """
    KeysFooter {
        layout: grid;
        height: 2;
        grid-gutter: 0 0;
        FooterKey { width: 1fr; margin: 0; }
    }
    """

    def __init__(self) -> None:
        super().__init__(show_command_palette=False, compact=True)

    def compose(self) -> ComposeResult:
        keys: list[Widget] = list(super().compose())
        # Footer asks for one grid column per binding; FOOTER_ROWS rows need fewer.
        self.styles.grid_size_columns = max(1, math.ceil(len(keys) / FOOTER_ROWS))
        yield from keys


def _key_rows(
    bindings: Iterable[BindingType], key_display: dict[str, str]
) -> list[tuple[str, str]]:
    rows = []
    for binding in Binding.make_bindings(bindings):
        key = key_display.get(binding.key, binding.key_display or binding.key)
        rows.append((key, binding.tooltip or binding.description))
    return rows


class HelpScreen(ModalScreen[None]):
    """Every binding with what it does, over the screen; any key closes it.

    ``HelpScreen(bindings, extra=[("↑ ↓", "select a node")])``: each binding's ``tooltip`` (or
    else its description) is the text shown; ``extra`` rows follow, for keys that are not
    bindings of the app (those of a focused widget, the mouse).
    """

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > Vertical {
            width: 72;
            max-width: 100%;
            height: auto;
            max-height: 90%;
            border: round $primary;
            border-title-align: left;
            background: $surface;
            padding: 0 1;
            Static { width: 100%; }
        }
    }
    """

    def __init__(
        self,
        bindings: Iterable[BindingType],
        *,
        extra: Sequence[tuple[str, str]] = (),
        title: str = "keys",
    ) -> None:
        super().__init__()
        self._keys = list(bindings)
        self._extra = list(extra)
        self._box_title = title

    def compose(self) -> ComposeResult:
        keys = {b.key: self.app.get_key_display(b) for b in Binding.make_bindings(self._keys)}
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, words in [*_key_rows(self._keys, keys), *self._extra]:
            table.add_row(key, words)
        with Vertical() as box:
            box.border_title = self._box_title
            box.border_subtitle = "any key closes"
            yield Static(table)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss()

    def on_click(self) -> None:
        self.dismiss()
