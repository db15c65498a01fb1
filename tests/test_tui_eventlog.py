"""The event log follows new events, unless the student scrolled up to read."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import RichLog

from distlab._trace import TraceEvent
from distlab.tui._model import ClusterModel
from distlab.tui.widgets import EventLog


def log_lines(model: ClusterModel, first: int, count: int) -> None:
    for seq in range(first, first + count):
        model.apply(
            TraceEvent(
                seq, seq / 100, "log", {"node": "n1", "level": "info", "text": f"line {seq} " * 6}
            )
        )


class OneLog(App[None]):
    def compose(self) -> ComposeResult:
        yield EventLog()


def test_the_log_follows_after_the_screen_rewraps_it_and_holds_only_when_scrolled_up() -> None:
    async def main() -> None:
        app = OneLog()
        model = ClusterModel()
        async with app.run_test(size=(100, 30)) as pilot:
            events = app.query_one(EventLog)
            lines = app.query_one(RichLog)
            log_lines(model, 1, 200)
            events.show(model)
            await pilot.pause()
            await pilot.resize_terminal(50, 30)  # narrower: every line wraps anew, the end moves
            await pilot.pause()
            log_lines(model, 201, 5)
            events.show(model)
            await pilot.pause()
            assert events.border_subtitle == ""  # still following: nobody scrolled
            assert lines.scroll_y == lines.max_scroll_y
            lines.scroll_home(animate=False, immediate=True)  # the student scrolls up to read
            log_lines(model, 206, 5)
            events.show(model)
            assert events.border_subtitle.startswith("held: scrolled up")
            assert not any("line 210" in line.text for line in lines.lines)
            lines.scroll_end(animate=False, immediate=True)  # and back to the end
            events.show(model)
            await pilot.pause()
            assert events.border_subtitle == ""
            assert any("line 210" in line.text for line in lines.lines)

    asyncio.run(main())


def test_follow_shows_the_newest_event_from_its_first_line_even_in_a_full_log() -> None:
    """A replay's cursor on a crash: its first line in view, not the end of its traceback."""

    async def main() -> None:
        app = OneLog()
        model = ClusterModel()
        async with app.run_test(size=(100, 30)) as pilot:
            events = app.query_one(EventLog)
            lines = app.query_one(RichLog)
            for first in range(1, 1200, 100):  # more lines than the log keeps
                log_lines(model, first, 100)
                events.show(model)
                await pilot.pause()
            lines.scroll_home(animate=False, immediate=True)  # the student scrolled up
            traceback = "\n".join(f"  frame {i}" for i in range(60))
            crash = {"node": "n1", "reason": "boom", "traceback": traceback}
            model.apply(TraceEvent(1201, 13.0, "crash", crash))
            events.show(model, follow=True)
            await pilot.pause()
            top = round(lines.scroll_y)
            assert "CRASHED    boom" in lines.lines[top].text
            assert lines.scroll_y < lines.max_scroll_y  # the traceback goes on below
            log_lines(model, 1202, 1)  # the next event: at the end again
            events.show(model, follow=True)
            await pilot.pause()
            assert lines.scroll_y == lines.max_scroll_y
            assert "line 1202" in lines.lines[-1].text

    asyncio.run(main())
