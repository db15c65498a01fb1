"""Lab 4 — Chubby: five replicas elect a leader, and the leader runs a lock service.

Read labs/04-chubby/README.md first. Run it with ``distlab run 4``: a leader is elected, two
clients take turns with the lock, the leader is crashed, and the others elect a new one.

Every replica is, at any moment, a *follower*, a *candidate* or the *leader*, in a *term*: a
number that only grows, and names one election. A follower that hears no leader for a random
election timeout stands for election in the next term; a candidate with the votes of a majority
leads that term, and says so with a heartbeat round every ``heartbeat_interval``. A replica votes
at most once per term, and keeps its term and vote in storage: a vote forgotten in a crash could
be given twice, and a term could have two leaders.

The lock lives at the leader, as a *lease*: each grant runs out at an absolute time (the cluster
shares one clock). Two rules keep two clients from ever holding it at once across a change of
leader:

- **the master lease**: a follower that acknowledges a heartbeat promises to vote for nobody for
  ``election_timeout_min`` seconds. So while a majority's promises run, no other leader can be
  elected; the leader grants only then, and steps down when its lease lapses;
- **the grace period**: a new leader does not know who holds the lock, so it grants nothing
  until every lease an old leader may have granted has run out: one ``lock_lease``.

Every node is single-threaded in the trio sense: between two ``await``s nothing else runs on it,
so the bookkeeping below needs no locks (of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distlab import Message, Node, TaskHandle, handler

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


@dataclass
class Lock:
    """The leader's lock: who holds it, and until when. Only the leader keeps one."""

    holder: str | None = None
    #: when the holder's lease runs out, on the cluster's clock (``self.now()``)
    expires: float = 0.0


@dataclass
class Round:
    """One heartbeat round of the leader: when it was sent, and who acknowledged it."""

    sent_at: float
    acked_by: set[str] = field(default_factory=set)


class Replica(Node):
    """One of the five replicas of the lock service: follower, candidate or leader.

    Publishes ``role`` (follower/candidate/leader) and ``term`` together (the tests read them
    from the trace: at most one leader per term), ``holder`` and ``expires`` (the lock, at the
    leader), ``leader`` (whom it follows) and ``voted_for`` (its vote in this term).
    """

    def __init__(self) -> None:
        super().__init__()
        # Set up here rather than in on_start: on_start runs as a task of its own, and a message
        # may be handled before it has run.
        self.term, self.voted_for = self.recall_term_and_vote()
        self.state = FOLLOWER  # (self.role is the lab's role: "replica")
        self.leader: str | None = None  # whom it follows; None while it knows of no leader
        # When it last heard a leader. A replica that has just started cannot remember what it
        # promised before it crashed, so it counts its start as a heartbeat heard (see
        # hears_a_leader).
        self.last_heard = self.now()
        self.election_due = 0.0  # when it stands for election unless a leader is heard first
        self.reset_election_timer()
        self.votes: set[str] = set()  # a candidate's votes in this term, its own included
        # What only a leader keeps, all lost when it steps down:
        self.leading_since = 0.0
        self.heartbeats: TaskHandle | None = None
        self.rounds: dict[int, Round] = {}  # recent heartbeat rounds, by number
        self.last_round = 0
        self.lease_until = 0.0  # its master lease: it may grant locks until then
        self.lock = Lock()
        self.published: dict[str, Any] = {}

    async def on_start(self) -> None:
        self.publish()
        self.spawn(self.watch_for_silence)

    # -- who is who ---------------------------------------------------------------------------

    def peers(self) -> list[str]:
        """The other replicas."""
        return [replica for replica in self.nodes_with_role("replica") if replica != self.id]

    def majority(self) -> int:
        """How many replicas make a majority: 3 of 5. Any two majorities share a replica."""
        return len(self.nodes_with_role("replica")) // 2 + 1

    @property
    def lease_length(self) -> float:
        """How long the leader may count on a heartbeat round a majority acknowledged.

        A follower's promise runs ``election_timeout_min`` from when it *received* the round,
        which is after the leader sent it; the margin keeps the leader clear of it even if the
        clocks disagree a little (one machine's processes share a clock; real machines do not).
        """
        return float(self.config["election_timeout_min"] - self.config["lease_margin"])

    def publish(self) -> None:
        """Publish what changed: role and term, whom it follows, the lock, its vote."""
        held = self.lock.holder is not None  # only ever at the leader
        # In this order: the TUI shows the first ~60 characters, and these matter most.
        fields = {
            "role": self.state,
            "term": self.term,
            "holder": self.lock.holder,
            "leader": self.leader,
            "expires": round(self.lock.expires, 3) if held else None,
            "voted_for": self.voted_for,
        }
        changed = {
            key: value
            for key, value in fields.items()
            if key not in self.published or self.published[key] != value
        }
        if changed:
            self.status(**changed)
            self.published.update(changed)

    # -- Part A: terms, votes, elections (keeping them in storage: Part B) ----------------------

    def recall_term_and_vote(self) -> tuple[int, str | None]:
        """The term and the vote kept in storage: ``(0, None)`` the very first time."""
        # SOLUTION: read them back from self.storage (one key, written by set_term_and_vote)
        kept: dict[str, Any] = self.storage.get("vote", {"term": 0, "voted_for": None})
        return kept["term"], kept["voted_for"]
        # END SOLUTION

    def set_term_and_vote(self, term: int, voted_for: str | None) -> None:
        """Change the term and the vote, durably: in storage first, then in memory.

        Call it before anyone can learn of the change (before a vote is answered): a promise
        kept only in memory dies with the node, and a restarted replica would vote again.
        """
        # SOLUTION: write both to storage, under one key so that a crash never splits them
        self.storage.put("vote", {"term": term, "voted_for": voted_for})
        # END SOLUTION
        self.term, self.voted_for = term, voted_for

    def observe_term(self, term: int) -> None:
        """A message carries ``term``: if it is newer than ours, we are out of date.

        Adopt the newer term, with no vote in it yet, and become a follower of nobody yet (a
        leader or candidate of an old term has nothing more to do).
        """
        # SOLUTION: a newer term: adopt it (no vote yet), and become a follower of nobody yet
        if term > self.term:
            self.set_term_and_vote(term, None)
            self.become_follower(leader=None)
        # END SOLUTION

    def reset_election_timer(self) -> None:
        """Choose when to stand for election, unless a leader is heard before then.

        A random time between ``election_timeout_min`` and ``_max`` from now: replicas whose
        timers ran out at once would split the votes, and try again, and again.
        """
        shortest, longest = self.config["election_timeout_min"], self.config["election_timeout_max"]
        self.election_due = self.now() + self.random.uniform(shortest, longest)

    async def watch_for_silence(self) -> None:
        """Stand for election each time the election timer runs out (a leader's never does)."""
        while True:
            await self.sleep(max(0.0, self.election_due - self.now()))
            if self.state == LEADER:
                self.reset_election_timer()
            elif self.now() >= self.election_due:  # else: a heartbeat moved the timer on
                self.start_election()

    def start_election(self) -> None:
        """Stand for leader in a new term: vote for itself, and ask the others for their votes.

        Also reset the election timer: if the votes split and nobody wins, it stands again, in
        a later term, after a new random timeout.
        """
        # SOLUTION: next term, voted for itself (durably); candidate; ask every peer to vote
        self.set_term_and_vote(self.term + 1, self.id)
        self.state, self.leader, self.votes = CANDIDATE, None, {self.id}
        self.reset_election_timer()
        self.publish()
        self.log.info(f"standing for election in term {self.term}")
        for peer in self.peers():
            self.send(peer, {"type": "request_vote", "term": self.term})
        self.count_votes()  # a replica alone in its cluster is its own majority
        # END SOLUTION

    @handler("request_vote")
    async def on_request_vote(self, msg: Message) -> None:
        """A candidate asks for this replica's vote in its term.

        Ignore it entirely (not even its term) while bound by the promise of a heartbeat
        (:meth:`hears_a_leader`). Otherwise adopt a newer term, and grant the vote if the
        candidate's term is ours and :meth:`may_vote_for` allows it; store the vote before
        answering. Answer ``vote`` with our term and whether it is granted.
        """
        term: int = msg.body["term"]
        # SOLUTION: ignore while a leader is heard; adopt a newer term; grant at most once; reply
        if self.hears_a_leader():
            self.log.info(f"ignored {msg.src}'s request for a vote in term {term}: I hear a leader")
            return
        self.observe_term(term)
        granted = term == self.term and self.may_vote_for(msg.src)
        if granted:
            self.set_term_and_vote(self.term, msg.src)  # durable before the answer leaves
            self.reset_election_timer()  # a candidate it backs deserves time to win
            self.publish()
        self.reply(msg, {"type": "vote", "term": self.term, "granted": granted})
        # END SOLUTION

    def may_vote_for(self, candidate: str) -> bool:
        """Whether this replica may vote for ``candidate`` in its current term: once per term.

        (Asked again by the same candidate, say because the answer was lost, it says yes again.)
        """
        # SOLUTION: not yet voted in this term, or already for this very candidate
        return self.voted_for in (None, candidate)
        # END SOLUTION

    @handler("vote")
    async def on_vote(self, msg: Message) -> None:
        """A replica answers our request for its vote: count it, if it is for this election."""
        term: int = msg.body["term"]
        # SOLUTION: a newer term: adopt it; count granted votes of this term while a candidate
        if term > self.term:
            self.observe_term(term)
            return
        if self.state != CANDIDATE or term != self.term or not msg.body["granted"]:
            return  # a refusal, or a late answer to an election of an earlier term
        self.votes.add(msg.src)
        self.count_votes()
        # END SOLUTION

    def count_votes(self) -> None:
        """A candidate with the votes of a majority leads its term."""
        if self.state == CANDIDATE and len(self.votes) >= self.majority():
            self.become_leader()

    def become_follower(self, *, leader: str | None) -> None:
        """Follow ``leader`` (None: nobody known yet), giving up leading or standing."""
        if self.state == LEADER:
            self.stop_leading()
        self.state, self.leader, self.votes = FOLLOWER, leader, set()
        self.publish()

    # -- Part A: leading, and following ----------------------------------------------------------

    def become_leader(self) -> None:
        """Won the election: lead, with a fresh lock, and heartbeats from now on."""
        self.state, self.leader = LEADER, self.id
        self.leading_since = self.now()
        self.rounds, self.lease_until, self.lock = {}, 0.0, Lock()
        self.log.info(f"elected leader of term {self.term} by {', '.join(sorted(self.votes))}")
        self.publish()
        self.heartbeats = self.spawn(self.lead)

    def stop_leading(self) -> None:
        """Forget everything a leader keeps; the next leader starts afresh."""
        if self.heartbeats is not None:
            self.heartbeats.cancel()
            self.heartbeats = None
        self.rounds, self.lease_until, self.lock = {}, 0.0, Lock()
        self.reset_election_timer()

    async def lead(self) -> None:
        """The leader's loop: a heartbeat round every ``heartbeat_interval``, till it steps down."""
        while True:
            if self.master_lease_lapsed():
                self.log.warning(
                    f"stepping down from term {self.term}: no majority acknowledged a heartbeat "
                    f"for {self.lease_length:g} s"
                )
                self.become_follower(leader=None)
                return
            self.forget_expired_lock()
            self.send_heartbeats()
            await self.sleep(self.config["heartbeat_interval"])

    def send_heartbeats(self) -> None:
        """Start a new heartbeat round: remember when it was sent, and send it to every peer.

        The leader counts as having acknowledged its own round.
        """
        # SOLUTION: a new numbered Round (sent now, acked by itself); a heartbeat to each peer
        self.last_round += 1
        self.rounds[self.last_round] = Round(sent_at=self.now(), acked_by={self.id})
        self.forget_old_rounds()
        for peer in self.peers():
            self.send(peer, {"type": "heartbeat", "term": self.term, "round": self.last_round})
        # END SOLUTION

    def forget_old_rounds(self) -> None:
        """Rounds sent longer than a lease ago can no longer extend the lease: drop them."""
        now = self.now()
        self.rounds = {n: r for n, r in self.rounds.items() if r.sent_at + self.lease_length > now}

    @handler("heartbeat")
    async def on_heartbeat(self, msg: Message) -> None:
        """The leader of ``term`` says it is alive.

        From a leader of an older term: refuse (``ok: False``, with our term, so that it learns
        it is out of date). Otherwise adopt its term, follow it, note the time (that is the
        promise: no vote for anyone for ``election_timeout_min`` from now), reset the election
        timer, and acknowledge the round. Answer ``heartbeat_reply`` with our term, the round,
        and ``ok``.
        """
        term: int = msg.body["term"]
        answer = {"type": "heartbeat_reply", "round": msg.body["round"]}
        # SOLUTION: refuse an old term; else adopt it, follow the sender, promise, acknowledge
        if term < self.term:
            self.reply(msg, {**answer, "term": self.term, "ok": False})
            return
        self.observe_term(term)
        self.last_heard = self.now()  # the promise starts before the acknowledgement leaves
        self.reset_election_timer()
        if self.state != FOLLOWER or self.leader != msg.src:
            self.become_follower(leader=msg.src)
        self.reply(msg, {**answer, "term": self.term, "ok": True})
        # END SOLUTION

    # -- Part B: the master lease ------------------------------------------------------------------

    def hears_a_leader(self) -> bool:
        """Whether this replica is bound by its promise, and must not vote for anyone.

        A leader is (it leads). So is a replica that heard a leader's heartbeat less than
        ``election_timeout_min`` ago (or started less than that ago: it cannot remember what it
        promised before it crashed).
        """
        # SOLUTION: the leader itself, or within election_timeout_min of last_heard
        return (
            self.state == LEADER
            or self.now() < self.last_heard + self.config["election_timeout_min"]
        )
        # END SOLUTION

    @handler("heartbeat_reply")
    async def on_heartbeat_reply(self, msg: Message) -> None:
        """A follower answers a heartbeat round.

        A newer term: this leader is out of date (adopt the term, which steps it down). An
        acknowledgement of a recent round of this term: count it; once a majority has
        acknowledged that round, extend the master lease to ``round.sent_at + lease_length``.
        """
        term: int = msg.body["term"]
        # SOLUTION: adopt a newer term; count an ok for a known round; a majority extends the lease
        if term > self.term:
            self.observe_term(term)
            return
        if self.state != LEADER or term != self.term or not msg.body["ok"]:
            return
        acked = self.rounds.get(msg.body["round"])
        if acked is None:
            return  # a round too old to extend the lease anyway
        acked.acked_by.add(msg.src)
        if len(acked.acked_by) >= self.majority():
            self.lease_until = max(self.lease_until, acked.sent_at + self.lease_length)
        # END SOLUTION

    def holds_master_lease(self) -> bool:
        """Whether a majority's promises still run: no other leader can be elected before then."""
        # SOLUTION: now is before lease_until
        return self.now() < self.lease_until
        # END SOLUTION

    def master_lease_lapsed(self) -> bool:
        """Whether the leader must step down: no majority has kept it leader for a whole lease.

        A new leader gets one lease's time to hear from its first majority.
        """
        first_majority_due = self.leading_since + self.lease_length
        return not self.holds_master_lease() and self.now() >= first_majority_due

    # -- Part C: the lock --------------------------------------------------------------------------

    def redirect(self, msg: Message) -> None:
        """Only the leader serves the lock: tell the client whom we follow (None: nobody yet)."""
        self.reply(msg, {"type": "not_leader", "leader": self.leader})

    @handler("acquire")
    async def on_acquire(self, msg: Message) -> None:
        """A client asks for the lock (or, holding it, for more time).

        Not the leader: redirect. A leader that :meth:`may_grant` nothing yet answers
        ``unavailable`` (with a ``reason``). The lock held by another client, whose lease has
        not run out: ``busy`` (``holder``, ``expires``). Otherwise grant it to the client, or
        renew its grant, for ``lock_lease`` seconds: ``granted`` (``expires``, ``term``).
        """
        # SOLUTION: redirect; unavailable unless may_grant; busy if another holds it; grant
        if self.state != LEADER:
            self.redirect(msg)
            return
        if not self.may_grant():
            self.reply(msg, {"type": "unavailable", "reason": self.why_not_granting()})
            return
        if self.lock.holder not in (None, msg.src) and not self.lease_ran_out():
            busy = {"type": "busy", "holder": self.lock.holder, "expires": self.lock.expires}
            self.reply(msg, busy)
            return
        self.lock = Lock(holder=msg.src, expires=self.now() + self.config["lock_lease"])
        self.publish()
        self.reply(msg, {"type": "granted", "expires": self.lock.expires, "term": self.term})
        # END SOLUTION

    def may_grant(self) -> bool:
        """Whether this leader may grant the lock now.

        Only with its master lease (else another leader may exist, and grant too), and only
        once its grace period is over: one ``lock_lease`` after it was elected, when every
        grant of an earlier leader has run out.
        """
        # SOLUTION: holds the master lease, and lock_lease has passed since leading_since
        grace_over = self.now() >= self.leading_since + self.config["lock_lease"]
        return grace_over and self.holds_master_lease()
        # END SOLUTION

    def why_not_granting(self) -> str:
        """Why the leader does not grant now, in words, for the client's log."""
        if not self.holds_master_lease():
            return "no master lease: the leader is not sure a majority still follows it"
        grace_ends = self.leading_since + self.config["lock_lease"]
        return f"a new leader's grace period, until t={grace_ends:.3f} s"

    @handler("release")
    async def on_release(self, msg: Message) -> None:
        """A client gives the lock back (a client that does not hold it changes nothing)."""
        # SOLUTION: redirect unless leader; free the lock if the sender holds it; reply released
        if self.state != LEADER:
            self.redirect(msg)
            return
        if self.lock.holder == msg.src:
            self.lock = Lock()
            self.publish()
        self.reply(msg, {"type": "released"})
        # END SOLUTION

    def lease_ran_out(self) -> bool:
        """Whether the lock's holder has lost it: its lease ran out, and it did not renew it.

        A holder that crashed, or was cut off, never releases the lock: its lease is what frees
        the lock for the others.
        """
        # SOLUTION: the lock's expiry has passed
        return self.now() >= self.lock.expires
        # END SOLUTION

    def forget_expired_lock(self) -> None:
        """A grant that has run out is over: show the lock as free."""
        if self.lock.holder is not None and self.lease_ran_out():
            self.lock = Lock()
            self.publish()
