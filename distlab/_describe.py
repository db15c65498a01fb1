"""Trace events in words: one line per event for the live log and replay, and run summaries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ._trace import (
    CHECK_FAILED,
    CHECK_PASSED,
    CRASH,
    DELIBERATE_CRASH,
    DELIVER,
    DROP,
    DUPLICATE,
    FAULT,
    FRAME_ERROR,
    LOG,
    LOST,
    PAUSE,
    RESTART,
    RESUME,
    RUN_END,
    RUN_START,
    SEND,
    SPAWN,
    START,
    STATUS,
    TERMINATE,
    TIMER,
    TraceEvent,
)

_LOG_STYLES = {
    "debug": "dim",
    "info": "",
    "warning": "yellow",
    "error": "bold red",
    "output": "magenta",
}
_BODY_LIMIT = 60


def _body_words(body: Mapping[str, Any]) -> str:
    extra = " ".join(
        f"{k}={v!r}" if isinstance(v, str) else f"{k}={for_people(v)}"
        for k, v in body.items()
        if k not in ("type", "msg_id", "in_reply_to")
    )
    if len(extra) > _BODY_LIMIT:
        extra = extra[: _BODY_LIMIT - 1] + "…"
    return f"{body.get('type')} {extra}".rstrip()


def _fields_words(fields: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={for_people(v)}" for k, v in fields.items())


def for_people(value: Any) -> str:
    """A value as a person reads it: floats to a few decimals (``expires=4.997``, not
    ``4.997266037999998``), inside lists and dicts too; everything else as ``str`` does."""
    if isinstance(value, float):
        if value and abs(value) < 0.001:
            return f"{value:.3g}"
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(for_people, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {for_people(v)}" for k, v in value.items()) + "}"
    return str(value)


def describe(event: TraceEvent) -> Text:
    """``  1.204  client    → server    ping seq=2``: one event as one styled line."""
    k = event.kind
    e = event
    head = f"{e.t:8.3f}  "
    if k == SEND:
        line = f"[cyan]{e['src']:<10}[/] → {e['dest']:<10} {escape(_body_words(e['body']))}"
    elif k == DELIVER:
        copy = " (duplicate)" if e.get("copy") else ""
        line = f"[dim]{e['dest']:<10} ← {e['src']:<10} got {e.get('type')} ({e['mid']}){copy}[/]"
    elif k == DROP:
        line = (
            f"[yellow]{e['src']:<10} ✗ {e['dest']:<10} dropped {e.get('type')} ({e['mid']}): "
            f"{escape(e['reason'])}[/]"
        )
    elif k == LOST:
        line = (
            f"[yellow]{e['src']:<10} ✗ {e['dest']:<10} lost {e.get('type')} ({e['mid']}): "
            f"{escape(e['reason'])}[/]"
        )
    elif k == DUPLICATE:
        line = (
            f"[yellow]{e['src']:<10} ⧉ {e['dest']:<10} duplicated {e.get('type')} ({e['mid']})[/]"
        )
    elif k == STATUS:
        line = f"[green]{e['node']:<10}[/] status     {escape(_fields_words(e['fields']))}"
    elif k == LOG:
        style = _LOG_STYLES.get(e["level"], "")
        text = escape(e["text"])
        line = f"{e['node']:<10} {e['level']:<10} " + (f"[{style}]{text}[/]" if style else text)
    elif k == CRASH:
        line = f"[bold red]{e['node']:<10} CRASHED    {escape(e['reason'])}[/]"
        if e.get("traceback"):
            line += "\n" + escape(_indent(e["traceback"]))
        if e.get("output_tail"):
            line += "\n[dim]" + escape(_indent("last output:\n" + e["output_tail"])) + "[/]"
    elif k in (START, RESTART):
        line = (
            f"[bold green]{e['node']:<10} {k.upper():<10}[/] as {e['cls']} "
            f"(incarnation {e['incarnation']}, port {e['port']})"
        )
    elif k in (PAUSE, RESUME, SPAWN):
        line = f"[bold blue]{e['node']:<10} {k.upper()}[/]"
    elif k == TERMINATE:
        line = f"[bold blue]{e['node']:<10} TERMINATED[/] removed from the cluster for good"
    elif k == TIMER:
        line = f"[dim]{e['node']:<10} timer      {escape(e['name'])}[/]"
    elif k == FAULT:
        line = f"[bold magenta]{'network':<10} {escape(e['change'])}[/] → {escape(e['summary'])}"
    elif k == FRAME_ERROR:
        line = f"[bold red]{e['node']:<10} bad frame  {escape(e['reason'])}[/]"
    elif k == RUN_START:
        line = f"[bold]run starts: seed {e['seed']}, {e['placement']}, {escape(e['summary'])}[/]"
    elif k == RUN_END:
        line = f"[bold]run ends: {escape(e['reason'])}[/]"
    elif k == CHECK_FAILED:
        line = f"[bold red]CHECK FAILED[/] {escape(e['test'])}: {escape(e['message'])}"
    elif k == CHECK_PASSED:
        line = f"[bold green]CHECK PASSED[/] {escape(e['test'])}: {escape(e['message'])}"
    else:
        line = escape(f"{k} {dict(e.fields)}")
    return Text.from_markup(head + line)


def _indent(text: str) -> str:
    return "\n".join("            " + line for line in text.splitlines())


def message_totals(events: Iterable[TraceEvent]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for e in events:
        if e.kind in (SEND, DELIVER, DROP, LOST, DUPLICATE):
            counts[e.kind] += 1
    return counts


def crash_diagnosis(events: Iterable[TraceEvent]) -> str | None:
    """The crashes nodes brought on themselves (not ordered by anyone), if any, in a sentence:
    why a client or a server stopped matters before anything the network did."""
    own = [
        e
        for e in events
        if e.kind == CRASH and not str(e.get("reason", "")).startswith(DELIBERATE_CRASH)
    ]
    if not own:
        return None
    said = [f"{e['node']} crashed at t={e.t:.3f} s: {e.get('reason', '')}" for e in own[:3]]
    more = f" (and {len(own) - 3} more crashes)" if len(own) > 3 else ""
    return "; ".join(said) + more


def network_diagnosis(events: Iterable[TraceEvent]) -> str | None:
    """A sentence on what the network did to the run, if it explains a failure."""
    events = list(events)
    totals = message_totals(events)
    sent = totals[SEND]
    if sent == 0:
        return "no node sent any message"
    failed = totals[DROP] + totals[LOST]
    if totals[DELIVER] == 0:
        reasons = Counter(e["reason"] for e in events if e.kind in (DROP, LOST))
        top = ", ".join(f"{n} × {reason}" for reason, n in reasons.most_common(3))
        return f"the network delivered none of the {sent} messages sent ({top})"
    if failed * 2 >= sent:
        return f"the network lost {failed} of the {sent} messages sent"
    return None


def node_table(events: Iterable[TraceEvent], states: Mapping[str, str]) -> Table:
    """Nodes with their final state, message counts and last published status."""
    sent: Counter[str] = Counter()
    received: Counter[str] = Counter()
    crashes: Counter[str] = Counter()
    status: dict[str, dict[str, Any]] = {}
    roles: dict[str, str] = {}
    for e in events:
        if e.kind == SEND:
            sent[e["src"]] += 1
        elif e.kind == DELIVER:
            received[e["dest"]] += 1
        elif e.kind == CRASH:
            crashes[e["node"]] += 1
        elif e.kind == STATUS:
            status.setdefault(e["node"], {}).update(e["fields"])
        elif e.kind in (START, RESTART):
            roles[e["node"]] = e["role"]
            if e.kind == RESTART:
                status.pop(e["node"], None)
    table = Table(title="nodes", title_justify="left")
    for column in ("node", "role", "state", "sent", "received", "crashes", "status"):
        table.add_column(
            column, justify="right" if column in ("sent", "received", "crashes") else "left"
        )
    for name in sorted(states):
        table.add_row(
            name,
            roles.get(name, ""),
            states[name],
            str(sent[name]),
            str(received[name]),
            str(crashes[name]),
            escape(_fields_words(status.get(name, {}))),
        )
    return table
