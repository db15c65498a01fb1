"""Mutant: a replica answers a request for its vote first, and stores the vote afterwards.

Aimed at test_a_replica_crashed_right_after_it_answers_keeps_its_term_and_vote. Between the two
steps nothing else runs on the node, so only a crash right after the answer leaves tells them
apart: the candidate counts the vote, and the replica comes back without it, free to vote for
another candidate in the same term.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    @handler("request_vote")
    async def on_request_vote(self, msg: Message) -> None:
        term: int = msg.body["term"]
        if self.hears_a_leader():
            self.log.info(f"ignored {msg.src}'s request for a vote in term {term}: I hear a leader")
            return
        self.observe_term(term)
        granted = term == self.term and self.may_vote_for(msg.src)
        self.reply(msg, {"type": "vote", "term": self.term, "granted": granted})  # answer first
        if granted:
            self.set_term_and_vote(self.term, msg.src)  # then store: too late after a crash
            self.reset_election_timer()
            self.publish()
