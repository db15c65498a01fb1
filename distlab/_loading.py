"""Loading student code by file path, with one clear message when it fails to import.

A file is imported once and then shared (a lab's solution is imported by its mutants, its
demo's nodes by the cluster). Between two graded runs the grader forgets the modules
(``forget_loaded``): state a student keeps at module level must not carry over from one seed to
the next, or a seed replayed alone would not be the seed that failed.

Why every node incarnation gets its own copy of the student's module (``fresh_node_class``): in
one process, module and class attributes would survive a node's crash, and two nodes could
share state through them without sending a message. A real machine loses both; so does a node
here, in every placement.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType
from typing import TypeVar

from ._errors import ImplementationError
from ._node import Node

_PREFIX = "distlab_impl_"


@dataclass(frozen=True)
class NodeRef:
    """Where a node's class lives: a file and a class name, loaded afresh for each incarnation.

    The supervisor hands these around instead of classes, so that it never has to import the
    student's code itself (the grader's trusted side never does).
    """

    path: Path
    class_name: str

    @property
    def name(self) -> str:
        return self.class_name.rsplit(".", 1)[-1]


def _module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    return f"{_PREFIX}{path.stem.replace('-', '_')}_{digest}"


def forget_loaded(*, keep: Collection[Path] = ()) -> None:
    """Forget every module ``load_module`` imported (but those of ``keep``): the next
    ``load_module`` of their files runs them afresh."""
    kept = {_module_name(path.resolve()) for path in keep}
    for name in [n for n in sys.modules if n.startswith(_PREFIX) and n not in kept]:
        del sys.modules[name]


def is_loaded_code(node_class: type[Node]) -> bool:
    """Was ``node_class`` defined in a file imported by ``load_module`` (a student's or lab's)?"""
    return node_class.__module__.startswith(_PREFIX)


_HARNESS_ATTR = "__distlab_harness__"
NodeT = TypeVar("NodeT", bound=type[Node])


def harness_node(node_class: NodeT) -> NodeT:
    """Mark a node class as the harness's own (a grader's client): trusted code that runs in the
    supervisor's process in every placement, never apart with the lab's nodes."""
    setattr(node_class, _HARNESS_ATTR, True)
    return node_class


def is_harness(node_class: type[Node] | NodeRef) -> bool:
    return isinstance(node_class, type) and bool(vars(node_class).get(_HARNESS_ATTR, False))


def runs_apart(node_class: type[Node] | NodeRef) -> bool:
    """Is this node lab or student code, run apart from the supervisor where the placement can
    (in a node host, or a process of its own)? The harness's own nodes (a grader's clients)
    are not, nor a lab's trusted roles (its provider): they run in the supervisor, which
    trusts them."""
    if is_harness(node_class):
        return False
    return isinstance(node_class, NodeRef) or is_loaded_code(node_class)


def ref_of(node_class: type[Node] | NodeRef) -> NodeRef:
    if isinstance(node_class, NodeRef):
        return node_class
    return NodeRef(Path(inspect.getfile(node_class)), node_class.__qualname__)


@contextmanager
def fresh_imports() -> Iterator[None]:
    """Inside the block, ``load_module`` runs files afresh; afterwards sys.modules is as before.

    What was loaded inside stays alive through the objects that use it (a class keeps its
    module's globals), unseen by anyone else.
    """
    saved = {n: m for n, m in sys.modules.items() if n.startswith(_PREFIX)}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n.startswith(_PREFIX)]:
            del sys.modules[name]
        sys.modules.update(saved)


def fresh_node_class(node_class: type[Node] | NodeRef) -> type[Node]:
    """The class for a new node incarnation: from a fresh copy of its file, if it is loaded code.

    Classes of ordinary importable modules (the runtime's own, a test harness's) are used as
    they are.
    """
    if isinstance(node_class, type) and (is_harness(node_class) or not is_loaded_code(node_class)):
        return node_class  # the supervisor's own code, or a lab's trusted role: loaded once
    ref = ref_of(node_class)
    with fresh_imports():
        return load_node_class(ref.path, ref.class_name)


def load_module(path: Path) -> ModuleType:
    """Import the Python file at ``path``. Any failure becomes one ImplementationError line."""
    path = path.resolve()
    if not path.is_file():
        raise ImplementationError(f"{path}: no such file (check the --impl path)")
    name = _module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImplementationError(f"{path}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(_compiled(path), module.__dict__)
    except SyntaxError as exc:
        del sys.modules[name]
        raise ImplementationError(f"{path}, line {exc.lineno}: SyntaxError: {exc.msg}") from None
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ImplementationError(f"{path} failed to import: {_where(exc, path)}") from None
    return module


#: path -> (modification time, size, code): each incarnation runs a file's code afresh, but
#: compiling it once is enough.
_COMPILED: dict[Path, tuple[int, int, CodeType]] = {}


def _compiled(path: Path) -> CodeType:
    stat = path.stat()
    cached = _COMPILED.get(path)
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    _COMPILED[path] = (stat.st_mtime_ns, stat.st_size, code)
    return code


def compiled_files() -> list[Path]:
    """Every file compiled in this process so far (in order)."""
    return list(_COMPILED)


def precompile(path: Path) -> None:
    """Compile a Python file now (never running it): processes forked later inherit the code.

    The simulator's trusted side does this for the files its node hosts loaded, so that the
    next host does not compile them again. A file that does not compile is left alone.
    """
    if path.suffix == ".py" and path.is_file():
        with contextlib.suppress(SyntaxError, ValueError, OSError):
            _compiled(path)


def _where(exc: BaseException, path: Path) -> str:
    """``line 12: NameError: name 'x' is not defined``: the deepest line in the student's file."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno
    what = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return f"line {line}: {what}" if line is not None else what


def load_node_class(path: Path, class_name: str) -> type[Node]:
    """The Node subclass called ``class_name`` in the file at ``path``."""
    module = load_module(path)
    obj: object = module
    for part in class_name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            break
    if not (isinstance(obj, type) and issubclass(obj, Node)):
        found = sorted(
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, Node) and v is not Node
        )
        raise ImplementationError(
            f"{path} has no Node class named {class_name!r}"
            + (f" (it defines: {', '.join(found)})" if found else " (it defines no Node class)")
        )
    return obj
