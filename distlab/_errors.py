"""Errors, named by who is to blame.

A student reading a traceback should know at once whether to fix their node code, look at the
network, or report a bug in distlab. So every error distlab raises is one of three families:

- ``NodeError``: the student's node did something wrong (a handler raised, a body is not JSON).
- ``NetworkError``: the network (real or simulated) did what networks do: an RPC got no reply.
- ``DistlabError``: everything else — a bad command-line value, a missing lab — with the fix named.
"""

from __future__ import annotations


class DistlabError(Exception):
    """A usage error: the message names the bad input and how to fix it."""


class LabNotFoundError(DistlabError):
    """No lab matches the number or slug given."""


class ImplementationError(DistlabError):
    """The student's implementation file could not be loaded (syntax error, import error...)."""


class NodeHostError(ImplementationError):
    """The student's code ended the process it runs in (exit, signal, flood, a broken channel):
    the run cannot go on. The message says which node, doing what, where."""


class NodeHungError(NodeHostError):
    """Node code ran without ever waiting (or blocked the process): stopped by the watchdog."""


class NodeFloodError(NodeHostError):
    """A node sent messages faster than any lab needs: stopped before it swamped the run."""


class ConfigError(DistlabError, ValueError):
    """A fault setting or a lab spec value is out of range."""


class NodeError(Exception):
    """Base class for errors caused by a node's own code."""


class ProviderError(NodeError):
    """A node asked to launch or terminate nodes without a provider's powers."""


class BodyNotJSONError(NodeError, TypeError):
    """A message body could not be encoded as JSON."""


class NetworkError(Exception):
    """Base class for what the network does to a node: silence, mostly."""


def error_words(exc: BaseException) -> str:
    """``ConfigError: cannot pause judge-2: it is crashed, not up``; a group of one unwrapped."""
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return error_words(exc.exceptions[0])
    if isinstance(exc, NodeHostError):
        return str(exc)  # already in words, naming the node
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class RPCTimeoutError(NetworkError):
    """An RPC got no reply in time.

    The message says which node was asked, which request, and how long the caller waited::

        rpc to 'server' (type 'ping', msg_id 3) got no reply within 0.5 s
    """

    def __init__(self, *, dest: str, body_type: str, msg_id: int, timeout: float) -> None:
        self.dest = dest
        self.body_type = body_type
        self.msg_id = msg_id
        self.timeout = timeout
        super().__init__(
            f"rpc to {dest!r} (type {body_type!r}, msg_id {msg_id}) "
            f"got no reply within {timeout:g} s"
        )
