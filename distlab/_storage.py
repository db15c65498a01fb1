"""Durable storage: what a node keeps survives a crash; everything else is lost.

Each node incarnation gets a ``Storage`` backed by one JSON file in the run's state directory.
Every ``put`` rewrites the file atomically (write a temporary file, then rename over the old one),
so a crash at any instant leaves either the old contents or the new, never a torn file. We do not
fsync: distlab crashes processes, not machines, and the kernel keeps a renamed file across a
process's death.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
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
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._data: dict[str, Any] = {}
        if path.exists():
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
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._path)
