"""The linearizability search: Wing and Gong's algorithm with Lowe's improvements (as Porcupine
and Knossos run it), on operations already read from a history.

Why it is written this way:

- Lowe's just-in-time linearization: the history is a doubly linked list of call and return
  entries in time order. The operations that may take effect next are those whose call comes
  before the first return still in the list; placing one unlinks its two entries, and undoing it
  (backtracking) links them back, in LIFO order, so an undo is O(1).
- The search is a loop over an explicit stack, never recursion: a 10,000-operation history is
  10,000 frames deep when it succeeds.
- A configuration (the set of operations placed, the model's state) is searched once: both
  orders of two operations that commute reach the same configuration. A set is represented by
  the XOR of a random 128-bit number per operation, not by a bitset: a 10,000-bit integer per
  remembered configuration would cost 1.3 KB each. Two different sets share a number with a
  chance of about n^2 / 2^129 for n configurations: nil in practice.
- An operation without an answer (a timeout, or still pending) may take effect at any moment
  after its call, or never: it has a call entry and no return entry, so it never blocks the
  search, and it is tried only after the answered operations, so that a run with many timeouts
  does not try each one at every step before finding it was not needed. Since it may also never
  take effect, a configuration that failed with some of them placed dooms every configuration
  with the same answered operations, the same state and more of them placed; and one placed
  right after another that makes no difference to it (a write overwriting a write) is left to
  the configuration before, which tries it without the other.
- The search counts its steps and gives up past a budget (steps, and optionally seconds): a
  grader must never hang, and a budget in steps gives the same verdict on every machine.
- When it fails, it reports its frontier: the latest return it ever got stuck at (every answer
  before it was explained by some order), the operation that owns it, and the states the object
  could be in when that operation was tried there.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ._models import Model, OpInput

__all__ = ["SearchOp", "SearchResult", "search"]

NIL = -1
Step: TypeAlias = Callable[[Any, OpInput, Any], tuple[bool, Any]]
#: (entry, is it unanswered, state, answered placed, unanswered placed, blocking return entry,
#: the operation whose effect last changed the state, this one included (NIL: none did)):
#: what placing an operation changed, to undo it, and what a failure reports
Frame: TypeAlias = tuple[int, bool, Any, int, int, int, int]
#: how many states at the frontier a failure reports
MAX_STATES = 5
#: how many failed configurations per (answered operations, state) are remembered: each is
#: compared with every new configuration of that kind, so the work per step stays bounded
MAX_MASKS = 32


@dataclass(frozen=True)
class SearchOp:
    """One operation as the search sees it: its call and return positions in time order
    (``ret`` None: no answer, it may take effect at any moment after its call, or never)."""

    op: OpInput
    output: Any
    call: int
    ret: int | None


@dataclass(frozen=True)
class SearchResult:
    outcome: Literal["linearizable", "not linearizable", "unknown"]
    steps: int
    #: the operation (index into the ops searched) that could not be placed, on a failure; out
    #: of budget, the one the search was stuck at furthest so far
    stuck: int | None = None
    #: the states the object could be in when ``stuck`` was tried at the frontier
    states: tuple[Any, ...] = ()
    #: for each of those states, the operation whose effect last changed the state (-1: none,
    #: the initial state)
    causes: tuple[int, ...] = ()


def search(
    ops: Sequence[SearchOp],
    model: Model,
    *,
    max_steps: int,
    deadline: float | None = None,
) -> SearchResult:
    """Whether some order of ``ops`` that respects real time is a run of ``model``.

    ``deadline`` is a ``time.monotonic()`` time past which the search gives up.
    """
    # The answered operations' entries, in time order, make the main list; entry e is op
    # ``owner[e]``'s call or return. The unanswered operations' calls make a second list.
    positions: list[tuple[int, int, bool]] = []  # (position, op, is_call)
    unanswered: list[tuple[int, int]] = []  # (position, op)
    for i, sop in enumerate(ops):
        if sop.ret is None:
            unanswered.append((sop.call, i))
        else:
            positions.append((sop.call, i, True))
            positions.append((sop.ret, i, False))
    positions.sort()
    unanswered.sort()

    count = len(positions)
    head = count
    owner = [i for _, i, _ in positions]
    is_call = [c for _, _, c in positions]
    rank = [p for p, _, _ in positions]
    partner = [NIL] * count  # a call's return entry
    ret_entry: dict[int, int] = {}
    for e in range(count - 1, -1, -1):
        if is_call[e]:
            partner[e] = ret_entry[owner[e]]
        else:
            ret_entry[owner[e]] = e
    # NIL (-1) indexes one spare slot at the end of each array: unlinking the last entry of a
    # list writes its successor's (NIL's) back link there, where nothing reads it
    nxt = [*range(1, count), NIL, 0 if count else NIL, NIL]
    prv = [head, *range(count - 1), NIL, NIL]

    ucount = len(unanswered)
    uhead = ucount
    uowner = [i for _, i in unanswered]
    urank = [p for p, _ in unanswered]
    unxt = [*range(1, ucount), NIL, 0 if ucount else NIL, NIL]
    uprv = [uhead, *range(ucount - 1), NIL, NIL]

    inputs = [sop.op for sop in ops]
    outputs = [sop.output for sop in ops]
    zobrist_rng = random.Random(0x11AEA12)
    zobrist = [zobrist_rng.getrandbits(128) for _ in ops]
    step = model.step

    # a configuration: the answered operations placed (the XOR of their numbers), the
    # unanswered ones placed (a bitmask over the unanswered list), the model's state
    state: Any = model.initial
    placed = 0
    umask = 0
    seen: set[tuple[int, int, Any]] = {(placed, umask, state)}
    # Configurations that failed, by (answered placed, state): their unanswered masks. One that
    # failed with unanswered set M dooms every configuration with the same answered set and
    # state and a superset of M: an unanswered operation may also never take effect, so
    # whatever the larger one could still do, the smaller one could too.
    failed: dict[tuple[int, Any], list[int]] = {}
    stack: list[Frame] = []
    returns_left = count // 2
    steps = 0
    frontier = NIL  # the latest return entry the search got stuck at
    frontier_states: list[Any] = []
    causes: list[int] = []

    entry = nxt[head]
    in_main = True  # scanning the main list, else the unanswered calls before ``block``
    block = NIL
    while returns_left:
        steps += 1
        if steps > max_steps or (
            deadline is not None and not steps & 0xFFF and time.monotonic() > deadline
        ):
            stuck = owner[frontier] if frontier != NIL else None
            return SearchResult("unknown", steps - 1, stuck)
        if in_main:
            if not is_call[entry]:
                # the first return still in the list: no answered call after it may go first
                in_main, block, entry = False, entry, unxt[uhead]
                continue
            i = owner[entry]
            ok, after = step(state, inputs[i], outputs[i])
            if ok:
                now = placed ^ zobrist[i]
                key = (now, umask, after)
                if key not in seen and not (ucount and _doomed(failed, now, umask, after)):
                    seen.add(key)
                    cause = i if after != state else stack[-1][6] if stack else NIL
                    stack.append((entry, False, state, placed, umask, NIL, cause))
                    state, placed = after, now
                    ret = partner[entry]
                    nxt[prv[entry]] = nxt[entry]
                    prv[nxt[entry]] = prv[entry]
                    nxt[prv[ret]] = nxt[ret]
                    prv[nxt[ret]] = prv[ret]
                    returns_left -= 1
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
            continue
        if entry != NIL and urank[entry] < rank[block]:
            i = uowner[entry]
            ok, after = step(state, inputs[i], outputs[i])
            if ok:
                now = umask | 1 << entry
                key = (placed, now, after)
                if (
                    key not in seen
                    and not _doomed(failed, placed, now, after)
                    and not _undone(stack, step, inputs[i], outputs[i], after)
                ):
                    seen.add(key)
                    cause = i if after != state else stack[-1][6] if stack else NIL
                    stack.append((entry, True, state, placed, umask, block, cause))
                    state, umask = after, now
                    unxt[uprv[entry]] = unxt[entry]
                    uprv[unxt[entry]] = uprv[entry]
                    in_main, entry = True, nxt[head]
                    continue
            entry = unxt[entry]
            continue
        # nothing more can go before ``block``: this configuration is a dead end
        if frontier == NIL or rank[block] > rank[frontier]:
            frontier, frontier_states = block, [state]
            causes = [stack[-1][6] if stack else NIL]
        elif (
            block == frontier and len(frontier_states) < MAX_STATES and state not in frontier_states
        ):
            frontier_states.append(state)
            causes.append(stack[-1][6] if stack else NIL)
        if not stack:
            stuck = owner[frontier]
            return SearchResult(
                "not linearizable", steps, stuck, tuple(frontier_states), tuple(causes)
            )
        if ucount:
            masks = failed.setdefault((placed, state), [])
            if len(masks) == MAX_MASKS:
                del masks[0]  # forgetting a failure is safe: it only prunes less
            masks.append(umask)
        entry, unanswered_entry, state, placed, umask, block, _ = stack.pop()
        if unanswered_entry:
            unxt[uprv[entry]] = entry
            uprv[unxt[entry]] = entry
            entry = unxt[entry]
        else:
            ret = partner[entry]
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            returns_left += 1
            in_main, entry = True, nxt[entry]
    return SearchResult("linearizable", steps)


def _doomed(failed: dict[tuple[int, Any], list[int]], placed: int, umask: int, state: Any) -> bool:
    """Whether a configuration with fewer unanswered operations placed, the same answered ones
    and the same state, has failed already."""
    masks = failed.get((placed, state))
    return masks is not None and any(not m & ~umask for m in masks)


def _undone(stack: list[Frame], step: Step, op: OpInput, output: Any, after: Any) -> bool:
    """Whether the unanswered operation placed last makes no difference to placing ``op`` (an
    unanswered one) now: from the state before it, ``op`` leads to the same state.

    Then the configuration without it, and with ``op``, is as good, and the search reaches it
    from the configuration before (which tries every unanswered operation in turn). Without
    this, k unanswered operations overwriting one another would be tried in 2^k subsets.
    """
    if not stack or not stack[-1][1]:
        return False
    ok, alternative = step(stack[-1][2], op, output)
    return ok and alternative == after
