"""Loading student code by file path, with one clear message when it fails to import.

A file is imported once and then shared (a lab's solution is imported by its mutants, its
demo's nodes by the cluster). Between two graded runs the grader forgets the modules
(``forget_loaded``): state a student keeps at module level must not carry over from one seed to
the next, or a seed replayed alone would not be the seed that failed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Collection
from pathlib import Path
from types import ModuleType

from ._errors import ImplementationError
from ._node import Node

_PREFIX = "distlab_impl_"


def _module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    return f"{_PREFIX}{path.stem.replace('-', '_')}_{digest}"


def forget_loaded(*, keep: Collection[Path] = ()) -> None:
    """Forget every module ``load_module`` imported (but those of ``keep``): the next
    ``load_module`` of their files runs them afresh."""
    kept = {_module_name(path.resolve()) for path in keep}
    for name in [n for n in sys.modules if n.startswith(_PREFIX) and n not in kept]:
        del sys.modules[name]


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
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise ImplementationError(f"{path}, line {exc.lineno}: SyntaxError: {exc.msg}") from None
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ImplementationError(f"{path} failed to import: {_where(exc, path)}") from None
    return module


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
