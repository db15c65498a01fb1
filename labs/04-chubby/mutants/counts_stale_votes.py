"""Mutant: a candidate counts every granted vote it receives, whatever election it answers.

Aimed at test_late_votes_count_for_nothing. On a quick network a vote arrives while its election
still runs, and all is well; on slow links a vote given in term 3 arrives after the candidate
has moved on to term 4, and is counted there: the candidate leads term 4 without a majority of
term 4, and another replica may win term 4 with the votes that really were given in it.
"""

from pathlib import Path

from distlab._loading import load_module

from distlab import Message, handler

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")


class Replica(solution.Replica):
    @handler("vote")
    async def on_vote(self, msg: Message) -> None:
        term: int = msg.body["term"]
        if term > self.term:
            self.observe_term(term)
            return
        if self.state != solution.CANDIDATE or not msg.body["granted"]:
            return  # (no check that the vote was given in this election's term)
        self.votes.add(msg.src)
        self.count_votes()
