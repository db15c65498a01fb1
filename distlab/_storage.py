"""Durable storage: what a node keeps survives a crash; everything else is lost.

Each node incarnation gets a ``Storage`` backed by one JSON file in the run's state directory.
Every ``put`` rewrites the file atomically (write a temporary file, then rename over the old one),
so a crash at any instant leaves either the old contents or the new, never a torn file. We do not
fsync: distlab crashes processes, not machines, and the kernel keeps a renamed file across a
process's death.

In the simulator every node lives in one process, so a crash there loses no memory but the
node object's: the cluster keeps each node's contents in a dict instead of a file (``files``).
The rename costs more than half a millisecond, and simulated runs put often.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from ._errors import NodeError


class StorageValueError(NodeError, TypeError):
    """A value given to ``storage.put`` cannot be stored as JSON."""


class Storage:
    """A node's durable key-value store (JSON values).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "server.json"
    >>> Storage(path).put("term", 3)
    >>> Storage(path).get("term")          # a fresh object (a restarted node) sees it
    3

    Values come back as they were put, dicts with their keys in the same order. With ``files``
    (the simulator's), the JSON text is kept there under ``path`` instead of in a file.
    """

    def __init__(self, path: Path, *, files: MutableMapping[Path, str] | None = None) -> None:
        self._path = path
        self._files = files
        self._data: dict[str, Any] = {}
        if files is not None:
            if path in files:
                self._data = json.loads(files[path])
        elif path.exists():
            self._data = json.loads(path.read_text(encoding="utf-8"))

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value, or ``default``. Values come back as fresh copies."""
        if key not in self._data:
            return default
        return json.loads(json.dumps(self._data[key]))

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (anything JSON can hold) under ``key``; durable when this returns."""
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StorageValueError(
                f"storage.put({key!r}, ...): value is not JSON: {exc}"
            ) from None
        self._data[key] = json.loads(text)
        self._save()

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error if it is absent)."""
        if key in self._data:
            del self._data[key]
            self._save()

    def keys(self) -> list[str]:
        return sorted(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def _save(self) -> None:
        text = json.dumps(self._data)  # insertion order: a stored dict keeps its key order
        save_stored(self._path, text, files=self._files)


def save_stored(path: Path, text: str, *, files: MutableMapping[Path, str] | None) -> None:
    """Keep a node's stored JSON text: in ``files`` if given, else atomically in a file."""
    if files is not None:
        files[path] = text
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def delete_stored(path: Path, *, files: MutableMapping[Path, str] | None) -> None:
    """Forget a node's stored JSON text, wherever it is kept (a terminated node's disk)."""
    if files is not None:
        files.pop(path, None)
    else:
        path.unlink(missing_ok=True)


def read_stored(path: Path, *, files: MutableMapping[Path, str] | None) -> str | None:
    """A node's stored JSON text, or None if it never stored anything."""
    if files is not None:
        return files.get(path)
    return path.read_text(encoding="utf-8") if path.exists() else None
