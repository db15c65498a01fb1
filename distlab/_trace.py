"""One trace: every event of a run, in order, as JSONL.

The runtime emits events here and nowhere else; the live log, the TUI, the checkers and replay
all read this one stream. Each event has a sequence number (its position in the run) and a time
in seconds since the run began. Lines are buffered and flushed by the runtime every
``FLUSH_INTERVAL`` seconds and at the end of the run, so a run killed midway keeps its trace up to
its last flush, and writing the trace never costs a system call per message.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ._errors import DistlabError

FLUSH_INTERVAL = 0.1

#: Message events: each message copy gets exactly one of FATES after its send or duplicate.
SEND, DELIVER, DROP, DUPLICATE, LOST = "send", "deliver", "drop", "duplicate", "lost"
FATES = frozenset({DELIVER, DROP, LOST})
#: Node life-cycle events.
START, RESTART, SPAWN, CRASH, PAUSE, RESUME, TERMINATE = (
    "start",
    "restart",
    "spawn",
    "crash",
    "pause",
    "resume",
    "terminate",
)
#: What nodes publish, and everything else.
TIMER, STATUS, LOG, FAULT, FRAME_ERROR = "timer", "status", "log", "fault", "frame_error"
RUN_START, RUN_END = "run_start", "run_end"
#: How a crash ordered by the supervisor (or a test) begins its reason; any other crash is the
#: node's own doing.
DELIBERATE_CRASH = "crashed on purpose"
#: A verdict: a demo scenario's, last before ``run_end``; the grader appends a failing seed's.
CHECK_FAILED, CHECK_PASSED = "check_failed", "check_passed"

EVENT_KINDS = (
    RUN_START,
    SEND,
    DELIVER,
    DROP,
    DUPLICATE,
    LOST,
    START,
    RESTART,
    SPAWN,
    TERMINATE,
    CRASH,
    PAUSE,
    RESUME,
    TIMER,
    STATUS,
    LOG,
    FAULT,
    FRAME_ERROR,
    RUN_END,
    CHECK_FAILED,
    CHECK_PASSED,
)


@dataclass(frozen=True)
class TraceEvent:
    """One event. ``fields`` holds the kind's own fields (see ``docs/trace.md``)."""

    seq: int
    t: float
    kind: str
    fields: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def node(self) -> str | None:
        """The node the event is about (for message events: the sender)."""
        value = self.fields.get("node", self.fields.get("src"))
        return value if isinstance(value, str) else None

    def to_json(self) -> str:
        return json.dumps(
            {"seq": self.seq, "t": self.t, "kind": self.kind, **self.fields},
            separators=(",", ":"),
            default=repr,
        )

    @classmethod
    def from_json(cls, line: str) -> TraceEvent:
        """One event from its JSON line; ValueError, in words, for anything else."""
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an event (a JSON object)")
        seq, t, kind = data.pop("seq", None), data.pop("t", None), data.pop("kind", None)
        if not isinstance(seq, int) or not isinstance(t, int | float) or not isinstance(kind, str):
            raise ValueError("an event needs an integer 'seq', a number 't' and a string 'kind'")
        return cls(seq, float(t), kind, data)


Subscriber = Callable[[TraceEvent], None]


class Trace:
    """The recorder: numbers events, keeps them (optionally), feeds subscribers, writes JSONL."""

    def __init__(self, *, path: Path | None = None, keep: bool = True) -> None:
        self.path = path
        self._keep = keep
        self.events: list[TraceEvent] = []
        self.counts: Counter[str] = Counter()
        self._subscribers: list[Subscriber] = []
        self._seq = 0
        self._pending_lines: list[str] = []
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")

    def stop_keeping(self) -> None:
        """Forget the events kept so far, and keep none from now on (a long live session)."""
        self._keep = False
        self.events = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(event)`` for every event from now on; returns an unsubscribe."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, kind: str, t: float, **fields: Any) -> TraceEvent:
        return self.record(kind, t, fields)

    def record(self, kind: str, t: float, fields: Mapping[str, Any]) -> TraceEvent:
        self._seq += 1
        event = TraceEvent(self._seq, round(t, 6), kind, fields)
        self.counts[kind] += 1
        if self._keep:
            self.events.append(event)
        if self._file is not None:
            self._pending_lines.append(event.to_json())
        for subscriber in tuple(self._subscribers):
            subscriber(event)
        return event

    def flush(self) -> None:
        if self._file is not None and self._pending_lines:
            self._pending_lines.append("")
            self._file.write("\n".join(self._pending_lines))
            self._file.flush()
            self._pending_lines.clear()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    def of_kind(self, *kinds: str) -> list[TraceEvent]:
        return [e for e in self.events if e.kind in kinds]


def read_trace(path: Path, *, notes: list[str] | None = None) -> Iterator[TraceEvent]:
    """Read a JSONL trace; a line that is not an event is a ValueError naming the line.

    A torn last line (a run killed mid-write) is skipped; with ``notes``, that is said there.
    """
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith("\n"):
                if notes is not None:
                    notes.append(
                        f"line {number} is cut off ({len(line)} characters, no end of line: the "
                        "run was stopped while writing it) and was left out"
                    )
                return
            try:
                yield TraceEvent.from_json(line)
            except ValueError as exc:
                raise ValueError(f"line {number} is not a distlab trace event: {exc}") from None


def read_trace_file(path: Path) -> tuple[list[TraceEvent], list[str]]:
    """Every event of a trace file, and notes on what was left out (a torn last line).

    A missing or empty file, or a line that is not an event, is a ``DistlabError`` in one line
    that names the file, the line and how to get a trace.
    """
    how = "write one with: distlab run LAB --sim --seed N --trace FILE"
    if not path.is_file():
        raise DistlabError(f"{path}: no such trace file ({how})")
    notes: list[str] = []
    try:
        events = list(read_trace(path, notes=notes))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DistlabError(f"{path}: {exc} ({how})") from None
    if not events:
        words = "is empty" if not notes else "holds no complete event"
        raise DistlabError(f"{path} {words}: not a distlab trace ({how})")
    return events, notes


def trace_digest(events: Iterable[TraceEvent]) -> str:
    """SHA-256 of the events as JSONL: two runs with equal digests recorded the same trace."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(event.to_json().encode() + b"\n")
    return digest.hexdigest()
