"""Lab 1's demo client. The lab provides it: you write the master and the workers.

It asks the master for sums, one at a time, and checks every answer against the sum it computes
itself. The graded tests do not use it (they set ``client_jobs = 0``): they send their own
requests.
"""

from distlab import Node, RPCTimeoutError


class SumClient(Node):
    """Asks the master for ``config["client_jobs"]`` sums of random numbers, and checks each.

    A request that gets no answer within ``config["client_timeout"]`` seconds is sent again:
    either the request or its answer may have been lost. Publishes ``right`` and ``wrong`` (how
    many answers were, and were not, the exact sum) and ``done``.
    """

    async def on_start(self) -> None:
        self.spawn(self.ask_all)

    async def ask_all(self) -> None:
        wanted: int = self.config["client_jobs"]
        right = wrong = 0
        self.status(right=0, wrong=0, done=wanted == 0)
        for _ in range(wanted):
            numbers = [
                self.random.randint(-1000, 1000) for _ in range(self.config["client_numbers"])
            ]
            answer = await self.ask_until_answered(numbers)
            if answer == sum(numbers):
                right += 1
            else:
                wrong += 1
                self.log.warning(f"the master answered {answer}, but the sum is {sum(numbers)}")
            self.status(right=right, wrong=wrong, done=right + wrong == wanted)
            await self.sleep(self.config["client_pause"])

    async def ask_until_answered(self, numbers: list[int]) -> object:
        """The sum the master answers for ``numbers``, asking again after each silence."""
        timeout: float = self.config["client_timeout"]
        while True:
            try:
                reply = await self.rpc(
                    "master", {"type": "sum", "numbers": numbers}, timeout=timeout
                )
            except RPCTimeoutError:
                self.log.info(f"no answer from the master within {timeout:g} s; asking again")
                continue
            return reply.body.get("sum")
