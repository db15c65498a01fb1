"""Node classes for the runtime's own tests (module level, so node processes can import them)."""

from __future__ import annotations

import os
import sys

import trio

from distlab import Message, Node, RPCTimeoutError, handler


class Echo(Node):
    """Replies to every ping; counts them in memory."""

    async def on_start(self) -> None:
        self.pings = 0

    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        self.pings += 1
        self.status(pings=self.pings)
        self.reply(msg, {"type": "pong", "n": msg.body.get("n")})


class Pinger(Node):
    """Pings ``config["target"]`` forever with short timeouts; publishes pongs and timeouts."""

    async def on_start(self) -> None:
        self.spawn(self.loop)

    async def loop(self) -> None:
        pongs = timeouts = 0
        n = 0
        while True:
            n += 1
            try:
                await self.rpc(
                    self.config.get("target", "echo"),
                    {"type": "ping", "n": n},
                    timeout=self.config.get("timeout", 0.05),
                )
                pongs += 1
            except RPCTimeoutError as exc:
                timeouts += 1
                self.status(last_timeout=str(exc))
            self.status(pongs=pongs, timeouts=timeouts)
            await self.sleep(self.config.get("pause", 0.005))


class Keeper(Node):
    """Counts boots in durable storage and ticks in memory."""

    async def on_start(self) -> None:
        boots = self.storage.get("boots", 0) + 1
        self.storage.put("boots", boots)
        self.ticks = 0
        self.status(boots=boots, ticks=0)
        self.every(0.005, self.tick)

    async def tick(self) -> None:
        self.ticks += 1
        self.status(ticks=self.ticks)


class Fragile(Node):
    """Raises in its handler: the node must crash, alone."""

    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        numbers = [1, 2, 3]
        self.reply(msg, {"type": "pong", "value": numbers[10]})


class Poker(Node):
    """Sends one ping to the fragile node."""

    async def on_start(self) -> None:
        self.send("fragile", {"type": "ping"})


class Dier(Node):
    """Prints a last word and ends its process without a Python exception."""

    @handler("ping")
    async def on_ping(self, msg: Message) -> None:
        print("dier: about to exit with code 3", file=sys.stderr, flush=True)
        os._exit(3)


class Misbehaver(Node):
    """Sends to a node that does not exist and a message over the frame limit, then pings."""

    async def on_start(self) -> None:
        self.send("nobody", {"type": "hello"})
        self.send("echo", {"type": "ping", "blob": "x" * (2 * 1024 * 1024)})
        self.spawn(self.ping_once)

    async def ping_once(self) -> None:
        while True:
            try:
                await self.rpc("echo", {"type": "ping"}, timeout=0.2)
                self.status(ok=True)
                return
            except RPCTimeoutError:
                continue


class Chatty(Node):
    """Sends every peer a message every few milliseconds; counts what arrives."""

    async def on_start(self) -> None:
        self.received = 0
        self.every(0.003, self.chat)

    async def chat(self) -> None:
        for peer in self.node_ids:
            if peer != self.id:
                self.send(peer, {"type": "chat"})

    @handler("chat")
    async def on_chat(self, msg: Message) -> None:
        self.received += 1
        self.status(received=self.received)


class WallClockReader(Node):
    """Breaks the determinism contract: reads the wall clock."""

    async def on_start(self) -> None:
        import time

        self.status(started_at=time.time())


class UnseededRandom(Node):
    """Breaks the determinism contract: uses the random module's global RNG."""

    async def on_start(self) -> None:
        import random

        self.status(lucky=random.random())


class TwoSteps(Node):
    """On each ``go``: says ``first``, records the step in storage, then says ``second``."""

    @handler("go")
    async def on_go(self, msg: Message) -> None:
        n = msg.body["n"]
        self.send(msg.src, {"type": "first", "n": n})
        self.storage.put("recorded", n)
        self.send(msg.src, {"type": "second", "n": n})


class Listener(Node):
    """Asks the stepper to ``go`` three times, 0.1 s apart."""

    async def on_start(self) -> None:
        self.heard: list[tuple[str, int]] = []
        self.spawn(self.ask)

    async def ask(self) -> None:
        for n in (1, 2, 3):
            self.send("stepper", {"type": "go", "n": n})
            await self.sleep(0.1)

    @handler("first")
    async def on_first(self, msg: Message) -> None:
        self.heard.append(("first", msg.body["n"]))

    @handler("second")
    async def on_second(self, msg: Message) -> None:
        self.heard.append(("second", msg.body["n"]))


class TwoStepsInANursery(Node):
    """Like TwoSteps, but says ``first`` from a task of a nursery of its own."""

    @handler("go")
    async def on_go(self, msg: Message) -> None:
        n = msg.body["n"]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.say_first, msg.src, n)
        self.storage.put("recorded", n)
        self.send(msg.src, {"type": "second", "n": n})

    async def say_first(self, dest: str, n: int) -> None:
        self.send(dest, {"type": "first", "n": n})
