"""Checkers for locks and elections, judged from what clients were told and what nodes answered.

A node's own ``status()`` says what it believes; a client acts on what it was *told*. A lock
service whose leader frees the lock for the wrong client, or a stale leader that grants it while
a new one does too, may publish a perfectly tidy status; the harm shows in the answers. These
checkers read the answers:

- :func:`client_lock_holds` and :func:`one_holder_at_a_time`: from a run's client history
  (``run.history``), when each client was told it held the lock, until when; no two clients may
  ever believe it at the same moment;
- :func:`no_grant_after_a_newer_leader`: from the trace, an old leader's grants all come before
  the election of any leader of a newer term (what a master lease is for);
- :func:`one_vote_per_term` and :func:`leaders_elected_by_a_majority`: from the trace, the votes
  replicas sent; none may vote for two candidates in one term, and a replica that claims a term's
  leadership must have been sent the votes of a majority *in that term* before it did.

Each raises :class:`CheckFailed` with the times, nodes and answers involved, in plain words.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Any

from distlab._trace import DELIVER, RESTART, SEND, START, STATUS, TraceEvent

from ._history import History
from ._results import CheckFailed

__all__ = [
    "ClientHold",
    "client_lock_holds",
    "leaders_elected_by_a_majority",
    "no_grant_after_a_newer_leader",
    "one_holder_at_a_time",
    "one_vote_per_term",
]


def _at(t: float) -> str:
    return f"t={t:.3f} s"


# -- the lock, from the client history ------------------------------------------------------------


@dataclass(frozen=True)
class ClientHold:
    """A client believed it held the lock from ``start`` (the answer reached it) until ``end``."""

    client: str
    start: float
    end: float
    #: the lock's expiry the answer gave (on the cluster's clock)
    expires: float
    #: the grant's answer as the client got it (its ``term``, say)
    answer: dict[str, Any]
    #: why the hold ended, in words
    ended_by: str

    def words(self) -> str:
        term = self.answer.get("term")
        granted = f"granted in term {term}" if term is not None else "granted"
        return (
            f"{self.client} was told at {_at(self.start)} that it held the lock until "
            f"{_at(self.expires)} ({granted}), and held it until {_at(self.end)} "
            f"({self.ended_by})"
        )


def client_lock_holds(
    history: History,
    *,
    acquire: str = "acquire",
    granted: str = "granted",
    release: str = "release",
    expires_field: str = "expires",
) -> list[ClientHold]:
    """Every time a client was told it held the lock, from the client history, by start time.

    A hold starts when a ``granted`` answer to the client's ``acquire`` reached it, and lasts
    until the answer's ``expires`` or until the client next asked to ``release`` the lock
    (a client stops using the lock when it gives it back, answered or not), whichever is first.
    A renewal by the holder starts a new hold that overlaps its own earlier one: that is fine.
    An answer the client gave up waiting for (a timeout) told it nothing.
    """
    releases: dict[str, list[float]] = {}
    for op in history.ops:
        if op.kind == "invoke" and op.f == release:
            releases.setdefault(op.process, []).append(op.t)
    holds = []
    for invoked, completed in history.completions():
        if invoked.f != acquire or completed is None or completed.kind != "ok":
            continue
        answer = completed.value if isinstance(completed.value, dict) else {}
        if answer.get("type") != granted:
            continue
        expires = float(answer.get(expires_field, 0.0))
        gave_back = [t for t in releases.get(invoked.process, []) if t >= completed.t]
        if gave_back and min(gave_back) < expires:
            end, ended_by = min(gave_back), f"it asked to {release} it"
        else:
            end, ended_by = expires, "the grant expired"
        holds.append(ClientHold(invoked.process, completed.t, end, expires, dict(answer), ended_by))
    return sorted(holds, key=lambda hold: hold.start)


def one_holder_at_a_time(
    history: History, *, clients: Collection[str] | None = None, **names: str
) -> list[ClientHold]:
    """Mutual exclusion as the clients saw it: no two clients were ever told they held the lock
    at the same moment. Returns every hold (of ``clients``, default: all).

    ``names`` rename the message types and the expiry field (see :func:`client_lock_holds`).
    """
    holds = [
        hold
        for hold in client_lock_holds(history, **names)
        if clients is None or hold.client in clients
    ]
    for i, first in enumerate(holds):
        for second in holds[i + 1 :]:
            if second.start >= first.end:
                break  # sorted by start: no later hold overlaps ``first`` either
            if second.client != first.client:
                raise CheckFailed(
                    f"two clients held the lock at once, from {_at(second.start)} until "
                    f"{_at(min(first.end, second.end))}: {first.words()}; and "
                    f"{second.words()}"
                )
    return holds


# -- elections, from the votes replicas sent ------------------------------------------------------


@dataclass(frozen=True)
class _Vote:
    voter: str
    candidate: str
    term: Any
    #: when it was sent (or, once delivered, when it arrived)
    t: float


def _granted_votes(
    events: Iterable[TraceEvent], *, vote_type: str, term_field: str, granted_field: str
) -> tuple[list[_Vote], dict[str, _Vote]]:
    """Every granted vote sent (in trace order), and the same votes by message id."""
    sent: list[_Vote] = []
    by_mid: dict[str, _Vote] = {}
    for e in events:
        if e.kind != SEND:
            continue
        body = e["body"]
        if body.get("type") != vote_type or not body.get(granted_field):
            continue
        vote = _Vote(str(e["src"]), str(e["dest"]), body.get(term_field), e.t)
        sent.append(vote)
        by_mid[str(e["mid"])] = vote
    return sent, by_mid


def one_vote_per_term(
    events: Iterable[TraceEvent],
    *,
    vote_type: str = "vote",
    term_field: str = "term",
    granted_field: str = "granted",
) -> int:
    """No node granted its vote to two candidates in one term (read from the ``vote`` messages
    it sent, whatever it published, and across its restarts). Returns how many votes were sent.
    """
    sent, _ = _granted_votes(
        list(events), vote_type=vote_type, term_field=term_field, granted_field=granted_field
    )
    first: dict[tuple[str, Any], _Vote] = {}
    for vote in sent:
        earlier = first.setdefault((vote.voter, vote.term), vote)
        if earlier.candidate != vote.candidate:
            raise CheckFailed(
                f"{vote.voter} voted twice in term {vote.term}: for {earlier.candidate} at "
                f"{_at(earlier.t)}, then for {vote.candidate} at {_at(vote.t)}. A replica votes "
                "at most once per term (and remembers it across a crash), or a term can have "
                "two leaders"
            )
    return len(sent)


def leaders_elected_by_a_majority(
    events: Iterable[TraceEvent],
    *,
    voters: Collection[str],
    role_field: str = "role",
    role: str = "leader",
    term_field: str = "term",
    vote_type: str = "vote",
    granted_field: str = "granted",
) -> dict[Any, str]:
    """Each node that claimed to lead a term had, by then, been sent the votes of a majority of
    ``voters`` in that very term (its own vote counts: it stood). Returns term -> leader.

    A claim is a status event with ``role_field=role``; its term is the node's accumulated
    ``term_field`` (publish both together). A vote counts when it was delivered to the claimant
    before the claim, granted, and for the claimed term: a vote from an earlier election that
    arrives late counts for nothing.
    """
    events = list(events)
    _, by_mid = _granted_votes(
        events, vote_type=vote_type, term_field=term_field, granted_field=granted_field
    )
    majority = len(voters) // 2 + 1
    received: dict[str, list[_Vote]] = {}  # candidate -> votes delivered to it so far
    status: dict[str, dict[str, Any]] = {}
    leaders: dict[Any, str] = {}
    for e in events:
        if e.kind == DELIVER and str(e.get("mid")) in by_mid:
            vote = by_mid[str(e["mid"])]
            received.setdefault(vote.candidate, []).append(replace(vote, t=e.t))
        if e.kind in (START, RESTART):  # a fresh incarnation: what it knew and said is gone
            received.pop(str(e["node"]), None)
            status.pop(str(e["node"]), None)
        if e.kind != STATUS:
            continue
        node = str(e["node"])
        fields = status.setdefault(node, {})
        fields.update(e["fields"])
        if e["fields"].get(role_field) != role or term_field not in fields:
            continue
        term = fields[term_field]
        backing = {v.voter for v in received.get(node, []) if v.term == term} | {node}
        if len(backing) < majority:
            stale = sorted(
                f"{v.voter} (term {v.term}, arrived at {_at(v.t)})"
                for v in received.get(node, [])
                if v.term != term
            )
            late = f"; votes of other terms it had received: {', '.join(stale)}" if stale else ""
            raise CheckFailed(
                f"{node} claimed to lead term {term} at {_at(e.t)}, but only "
                f"{', '.join(sorted(backing))} had voted for it in term {term} by then: "
                f"{len(backing)} of {len(voters)}, and a leader needs {majority}{late}. "
                "A vote answers one election: a vote of another term counts for nothing"
            )
        leaders.setdefault(term, node)
    return leaders


def no_grant_after_a_newer_leader(
    events: Iterable[TraceEvent],
    *,
    grant_type: str = "granted",
    term_field: str = "term",
    role_field: str = "role",
    role: str = "leader",
) -> int:
    """No node sent a grant in a term after a leader of a newer term had been elected. Returns
    how many grants were checked.

    A grant is a sent ``grant_type`` message that carries the granting leader's ``term_field``;
    an election is a status event with ``role_field=role`` (its term: the node's accumulated
    ``term_field``). A leader that may still grant once a newer leader exists lets two clients
    hold the lock: the new leader cannot know of its grants.
    """
    elected: list[tuple[float, Any, str]] = []  # (when, term, leader), in time order
    status: dict[str, dict[str, Any]] = {}
    grants = 0
    for e in events:
        if e.kind in (START, RESTART):
            status.pop(str(e["node"]), None)
        elif e.kind == STATUS:
            node = str(e["node"])
            fields = status.setdefault(node, {})
            fields.update(e["fields"])
            if e["fields"].get(role_field) == role and term_field in fields:
                elected.append((e.t, fields[term_field], node))
        elif e.kind == SEND and e["body"].get("type") == grant_type:
            term = e["body"].get(term_field)
            if not isinstance(term, int):
                continue
            grants += 1
            newer = next((x for x in elected if isinstance(x[1], int) and x[1] > term), None)
            if newer is not None:
                at, newer_term, leader = newer
                raise CheckFailed(
                    f"{e['src']} granted {e['dest']} the lock at {_at(e.t)} as leader of term "
                    f"{term}, but {leader} had been elected leader of term {newer_term} at "
                    f"{_at(at)}, and may grant it too. An old leader must stop granting before "
                    "a new one can be elected: its master lease runs out first"
                )
    return grants
