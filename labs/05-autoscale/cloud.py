"""The lab's cloud (given, not yours to write): the only node that creates and removes nodes.

It plays the cloud provider's API (EC2's RunInstances, TerminateInstances, DescribeInstances):

- ``launch`` {``token``}: boots a new instance (``instance-N``, a name never used before) and
  answers ``launched`` {``instance``} once it is up, ``config["boot_seconds"]`` later. The same
  ``token`` twice launches one instance: the second ``launch`` gets the first one's answer (an
  autoscaler that lost the answer may ask again safely). Past ``config["account_limit"]``
  instances (the account's limit, well above ``max_instances``) it answers ``error``.
- ``terminate`` {``instance``}: removes the instance for good (its storage is deleted, messages
  to it are lost) and answers ``terminated``; one still booting never starts. Terminating one
  already gone is fine; anything that is not an instance is refused (``error``).
- ``describe``: answers ``described`` {``instances``, ``booting``}: the instances running or
  booting, oldest first; and those still booting.

It keeps the fleet in its storage (a restart of the cloud forgets nothing) and publishes
``running`` (how many instances are up), ``booting`` and ``instances`` (the names, sorted).
"""

from __future__ import annotations

from typing import Any

import trio

from distlab import Message, ProviderNode, handler


class Cloud(ProviderNode):
    def __init__(self) -> None:
        super().__init__()
        self.booting: dict[str, trio.Event] = {}  # token -> set once its instance is up

    async def on_start(self) -> None:
        if self.storage.get("instances") is None:  # the first start: the initial fleet
            initial = self.nodes_with_role("instance")
            self.storage.put("instances", initial)
            self.storage.put("launched", len(initial))
            self.storage.put("tokens", {})
        self.publish()

    def instances(self) -> list[str]:
        return list(self.storage.get("instances", []))

    def publish(self) -> None:
        instances = self.instances()
        tokens: dict[str, Any] = self.storage.get("tokens", {})
        booting = sorted(str(v["instance"]) for v in tokens.values() if not v["up"])
        self.status(
            running=len(instances) - len(booting),
            booting=booting,
            instances=sorted(instances, key=_natural),
        )

    @handler("launch")
    async def on_launch(self, msg: Message) -> None:
        tokens: dict[str, Any] = dict(self.storage.get("tokens", {}))
        token = str(msg.body.get("token") or f"{msg.src}/{msg.msg_id} (no token)")
        known = tokens.get(token)
        if known is None:
            if len(self.instances()) >= self.config["account_limit"]:
                self.reply(msg, {"type": "error", "code": 429, "text": "instance limit reached"})
                return
            number = self.storage.get("launched", 0) + 1
            name = f"instance-{number}"
            self.storage.put("launched", number)
            tokens[token] = {"instance": name, "up": False}
            self.storage.put("tokens", tokens)
            self.storage.put("instances", [*self.instances(), name])
            self.booting[token] = trio.Event()
            self.publish()
            self.log.info(f"booting {name} (launch {token})")
            await self.sleep(self.config["boot_seconds"])
            if name in self.instances():  # not terminated while it booted
                await self.launch(name, role="instance")
            tokens = dict(self.storage.get("tokens", {}))
            tokens[token] = {"instance": name, "up": True}
            self.storage.put("tokens", tokens)
            self.booting.pop(token).set()
            self.publish()
        elif not known["up"]:
            if token not in self.booting:  # the cloud restarted while it booted: boot it now
                self.booting[token] = trio.Event()
                if known["instance"] in self.instances():
                    await self.launch(str(known["instance"]), role="instance")
                tokens[token] = {"instance": known["instance"], "up": True}
                self.storage.put("tokens", tokens)
                self.booting.pop(token).set()
                self.publish()
            else:
                await self.booting[token].wait()
        name = str(self.storage.get("tokens", {})[token]["instance"])
        if name not in self.instances():  # launched, then terminated already
            self.reply(msg, {"type": "error", "code": 410, "text": f"{name} was terminated"})
            return
        self.reply(msg, {"type": "launched", "instance": name})

    @handler("terminate")
    async def on_terminate(self, msg: Message) -> None:
        name = str(msg.body.get("instance"))
        if name not in self.nodes_with_role("instance") and name not in self.instances():
            self.reply(msg, {"type": "error", "code": 400, "text": f"{name} is not an instance"})
            return
        if name in self.instances():
            self.log.info(f"terminating {name}")
            self.storage.put("instances", [n for n in self.instances() if n != name])
            if name in self.node_ids:
                await self.terminate(name)
            self.publish()
        self.reply(msg, {"type": "terminated", "instance": name})

    @handler("describe")
    async def on_describe(self, msg: Message) -> None:
        tokens: dict[str, Any] = self.storage.get("tokens", {})
        booting = sorted(str(v["instance"]) for v in tokens.values() if not v["up"])
        instances = self.instances()
        self.reply(
            msg,
            {
                "type": "described",
                "instances": instances,
                "booting": [n for n in booting if n in instances],
            },
        )


def _natural(name: str) -> tuple[str, int]:
    head, _, tail = name.rpartition("-")
    return (head, int(tail)) if tail.isdigit() else (name, 0)
