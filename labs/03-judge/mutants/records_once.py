"""Mutant: a judge sends its verdict to the dashboard once, without waiting for record_ok.

Aimed at test_lost_messages_lose_no_submission. On a network that loses nothing it works; when
the record message is lost, the judge deletes the submission all the same, and it is gone.
"""

from pathlib import Path

from distlab._loading import load_module

solution = load_module(Path(__file__).resolve().parent.parent / "solution.py")

FrontEnd = solution.FrontEnd
Queue = solution.Queue
LoadBalancer = solution.LoadBalancer
Dashboard = solution.Dashboard


class Judge(solution.Judge):
    async def record(self, submission_id: str, verdict: str) -> bool:
        self.send("dashboard", {"type": "record", "id": submission_id, "verdict": verdict})
        return True  # "it was sent, so it is recorded"
