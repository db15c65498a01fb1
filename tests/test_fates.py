"""The fate ledger (every message copy gets exactly one fate) and the trace it reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distlab._fates import FateLedger
from distlab._trace import (
    DELIVER,
    DROP,
    DUPLICATE,
    FATES,
    LOST,
    SEND,
    Trace,
    TraceEvent,
    read_trace,
)


class _Events:
    """Builds TraceEvents with increasing seq numbers."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(self, kind: str, **fields: Any) -> TraceEvent:
        self.seq += 1
        return TraceEvent(self.seq, self.seq / 100, kind, fields)


def _msg(src: str, dest: str, n: int, copy: int = 0) -> dict[str, Any]:
    return {"src": src, "dest": dest, "mid": f"{src}/1/{n}", "copy": copy}


# -- FateLedger -----------------------------------------------------------------------------------


def test_send_then_deliver_resolves() -> None:
    ev = _Events()
    ledger = FateLedger()
    ledger.observe(ev(SEND, **_msg("a", "b", 1)))
    assert len(ledger.pending) == 1
    ledger.observe(ev(DELIVER, **_msg("a", "b", 1)))
    assert ledger.pending == {}
    assert ledger.problems == []
    assert ledger.resolved == 1


def test_every_fate_kind_resolves() -> None:
    assert {DELIVER, DROP, LOST} == FATES
    ev = _Events()
    ledger = FateLedger()
    for n, fate in enumerate(sorted(FATES), start=1):
        ledger.observe(ev(SEND, **_msg("a", "b", n)))
        ledger.observe(ev(fate, **_msg("a", "b", n)))
    assert ledger.resolved == 3
    assert ledger.pending == {}
    assert ledger.problems == []


def test_send_without_copy_field_is_copy_zero() -> None:
    # Send events in the trace carry no "copy": it defaults to 0.
    ev = _Events()
    ledger = FateLedger()
    ledger.observe(ev(SEND, src="a", dest="b", mid="a/1/1"))
    ledger.observe(ev(DELIVER, src="a", dest="b", mid="a/1/1", copy=0))
    assert ledger.resolved == 1 and ledger.problems == [] and ledger.pending == {}


def test_second_fate_is_a_problem() -> None:
    ev = _Events()
    ledger = FateLedger()
    ledger.observe(ev(SEND, **_msg("a", "b", 1)))
    ledger.observe(ev(DELIVER, **_msg("a", "b", 1)))
    second = ev(DROP, **_msg("a", "b", 1))
    ledger.observe(second)
    assert ledger.resolved == 1
    assert len(ledger.problems) == 1
    problem = ledger.problems[0]
    assert "a/1/1" in problem and "copy 0" in problem
    assert "second fate" in problem
    assert f"drop at seq {second.seq}" in problem


def test_fate_without_send_is_a_problem() -> None:
    ev = _Events()
    ledger = FateLedger()
    ledger.observe(ev(LOST, **_msg("x", "y", 9)))
    assert ledger.resolved == 0
    assert len(ledger.problems) == 1
    assert "x/1/9" in ledger.problems[0] and "no send" in ledger.problems[0]


def test_fate_for_another_message_does_not_resolve() -> None:
    ev = _Events()
    ledger = FateLedger()
    ledger.observe(ev(SEND, **_msg("a", "b", 1)))
    ledger.observe(ev(DELIVER, **_msg("a", "b", 2)))
    assert len(ledger.pending) == 1
    assert len(ledger.problems) == 1


def test_duplicate_needs_its_own_fate() -> None:
    ev = _Events()
    ledger = FateLedger()
    ledger.observe(ev(SEND, **_msg("a", "b", 1)))
    ledger.observe(ev(DUPLICATE, **_msg("a", "b", 1, copy=1)))
    ledger.observe(ev(DELIVER, **_msg("a", "b", 1)))
    # The original is resolved, the duplicate is not.
    assert ledger.resolved == 1
    assert list(ledger.pending) == [("a/1/1", 1)]
    assert ledger.problems == []
    ledger.observe(ev(DELIVER, **_msg("a", "b", 1, copy=1)))
    assert ledger.resolved == 2
    assert ledger.pending == {}
    assert ledger.problems == []


def test_fate_for_a_copy_never_sent_is_a_problem() -> None:
    ev = _Events()
    ledger = FateLedger()
    ledger.observe(ev(SEND, **_msg("a", "b", 1)))
    ledger.observe(ev(DELIVER, **_msg("a", "b", 1, copy=1)))
    assert len(ledger.problems) == 1 and "copy 1" in ledger.problems[0]
    assert list(ledger.pending) == [("a/1/1", 0)]


def test_same_copy_sent_twice_is_a_problem() -> None:
    ev = _Events()
    ledger = FateLedger()
    ledger.observe(ev(SEND, **_msg("a", "b", 1)))
    again = ev(SEND, **_msg("a", "b", 1))
    ledger.observe(again)
    assert len(ledger.problems) == 1
    assert "sent twice" in ledger.problems[0] and f"seq {again.seq}" in ledger.problems[0]


def test_pending_from_lists_unresolved_sends_of_that_node() -> None:
    ev = _Events()
    ledger = FateLedger()
    a1 = ev(SEND, **_msg("a", "b", 1))
    a2 = ev(SEND, **_msg("a", "c", 2))
    a2dup = ev(DUPLICATE, **_msg("a", "c", 2, copy=1))
    b1 = ev(SEND, **_msg("b", "a", 1))
    ledger.observe_all([a1, a2, a2dup, b1, ev(DELIVER, **_msg("a", "b", 1))])
    assert ledger.pending_from("a") == [a2, a2dup]
    assert ledger.pending_from("b") == [b1]
    assert ledger.pending_from("c") == []


def test_non_message_events_are_ignored() -> None:
    ev = _Events()
    ledger = FateLedger()
    ledger.observe_all([ev("start", node="a"), ev("log", node="a", text="hi"), ev("fault")])
    assert ledger.pending == {} and ledger.problems == [] and ledger.resolved == 0


def test_observe_all_returns_the_ledger() -> None:
    ledger = FateLedger()
    assert ledger.observe_all([]) is ledger


# -- Trace ---------------------------------------------------------------------------------------


def _emit_sample(trace: Trace) -> None:
    trace.emit("run_start", 0.0, seed=7, nodes=["a", "b"])
    trace.emit(SEND, 0.001, src="a", dest="b", mid="a/1/1", body={"type": "ping", "msg_id": 1})
    trace.emit(DUPLICATE, 0.0012345678, src="a", dest="b", mid="a/1/1", type="ping", copy=1)
    trace.emit(DELIVER, 0.02, src="a", dest="b", mid="a/1/1", copy=0)
    trace.emit(DROP, 0.021, src="a", dest="b", mid="a/1/1", copy=1, reason="random drop")
    trace.emit("log", 0.5, node="b", level="info", text="héllo\nwith a newline")
    trace.emit("run_end", 1.0)


def test_trace_round_trips_through_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "trace.jsonl"  # parent created
    trace = Trace(path=path)
    _emit_sample(trace)
    trace.flush()
    assert list(read_trace(path)) == trace.events
    trace.emit("log", 2.0, node="a", text="after flush")
    trace.close()
    back = list(read_trace(path))
    assert back == trace.events
    assert len(back) == 8
    # One JSON object per line, each line terminated.
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == 8
    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_trace_buffers_until_flush(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = Trace(path=path)
    trace.emit("run_start", 0.0)
    assert list(read_trace(path)) == []
    trace.flush()
    assert len(list(read_trace(path))) == 1
    trace.flush()  # nothing new: nothing written twice
    assert len(list(read_trace(path))) == 1
    trace.close()
    trace.close()  # closing twice is harmless
    assert len(list(read_trace(path))) == 1


def test_read_trace_skips_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = Trace(path=path)
    _emit_sample(trace)
    trace.close()
    full = path.read_text(encoding="utf-8")
    last = full.splitlines()[-1]
    # A run killed mid-write: half of the last line, no newline.
    path.write_text(full[: len(full) - len(last) // 2 - 1], encoding="utf-8")
    assert list(read_trace(path)) == trace.events[:-1]
    # Even a complete JSON object without its newline counts as torn.
    path.write_text(full[:-1], encoding="utf-8")
    assert list(read_trace(path)) == trace.events[:-1]


def test_trace_subscribers_get_every_event_in_order() -> None:
    trace = Trace()
    first: list[TraceEvent] = []
    second: list[TraceEvent] = []
    trace.subscribe(first.append)
    unsubscribe = trace.subscribe(second.append)
    _emit_sample(trace)
    assert first == trace.events
    assert second == trace.events
    unsubscribe()
    trace.emit("log", 3.0, text="only first")
    assert len(first) == len(trace.events) == 8
    assert len(second) == 7


def test_trace_seq_numbers_increase_by_one_and_counts() -> None:
    trace = Trace()
    _emit_sample(trace)
    assert [e.seq for e in trace.events] == list(range(1, 8))
    assert trace.counts[SEND] == 1 and trace.counts["log"] == 1 and sum(trace.counts.values()) == 7
    assert [e.kind for e in trace.of_kind(SEND, DELIVER)] == [SEND, DELIVER]
    assert trace.events[2].t == 0.001235  # times are rounded to microseconds


def test_trace_without_keep_still_numbers_and_notifies(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    trace = Trace(path=path, keep=False)
    seen: list[TraceEvent] = []
    trace.subscribe(seen.append)
    _emit_sample(trace)
    trace.close()
    assert trace.events == []
    assert [e.seq for e in seen] == list(range(1, 8))
    assert list(read_trace(path)) == seen


def test_trace_event_accessors_and_json() -> None:
    e = TraceEvent(4, 0.25, SEND, {"src": "a", "dest": "b", "mid": "a/1/1"})
    assert e["dest"] == "b"
    assert e.get("copy", 0) == 0
    assert e.node == "a"
    assert TraceEvent(5, 0.3, "crash", {"node": "n2"}).node == "n2"
    assert TraceEvent(6, 0.3, "run_end", {}).node is None
    assert json.loads(e.to_json()) == {
        "seq": 4,
        "t": 0.25,
        "kind": SEND,
        "src": "a",
        "dest": "b",
        "mid": "a/1/1",
    }
    assert TraceEvent.from_json(e.to_json()) == e


def test_ledger_over_a_read_back_trace(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = Trace(path=path)
    _emit_sample(trace)
    trace.close()
    ledger = FateLedger().observe_all(read_trace(path))
    assert ledger.problems == []
    assert ledger.resolved == 2
    assert ledger.pending == {}
