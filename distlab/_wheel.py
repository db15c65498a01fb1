"""A wheel of the running distlab, without the labs: what a course vendors for its students.

Why not ``uv build``: the wheel a course carries must hold no answer key, and the public wheel
carries the labs (reference solutions and mutants included, so that someone learning alone can
watch a working cluster). This one is written straight from the installed packages, leaving
``distlab/labs`` out, with no build backend and no network: an instructor with an installed
distlab can build a course anywhere. Entries are sorted and dated 1980-01-01, so the same
distlab gives the same wheel, byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import zipfile
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)
_WHEEL = "Wheel-Version: 1.0\nGenerator: distlab course build\nRoot-Is-Purelib: true\n"
_WHEEL += "Tag: py3-none-any\n"


def package_files() -> list[tuple[str, bytes]]:
    """Each file of the distlab package (path in the wheel, bytes), the labs left out.

    Links are followed: in a source checkout, distlab/grading and distlab/tui link to the
    project's grading/ and tui/ folders.
    """
    root = Path(__file__).parent
    files = []
    for folder, subfolders, names in os.walk(root, followlinks=True):
        subfolders.sort()
        here = Path(folder)
        for name in sorted(names):
            relative = (here / name).relative_to(root.parent)
            if "__pycache__" in relative.parts or name.endswith(".pyc"):
                continue
            if relative.parts[:2] == ("distlab", "labs"):
                continue  # the labs an installed distlab carries: answer keys stay out
            files.append((relative.as_posix(), (here / name).read_bytes()))
    return files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path) -> Path:
    """Write ``distlab-VERSION-py3-none-any.whl`` (no labs in it) into ``folder``."""
    dist = importlib.metadata.distribution("distlab")
    version = dist.version
    info = f"distlab-{version}.dist-info"
    metadata = dist.read_text("METADATA") or "Metadata-Version: 2.1\nName: distlab\n"
    entry_points = dist.read_text("entry_points.txt") or (
        "[console_scripts]\ndistlab = distlab._cli:main\n"
    )
    files = package_files()
    files += [
        (f"{info}/METADATA", metadata.encode()),
        (f"{info}/WHEEL", _WHEEL.encode()),
        (f"{info}/entry_points.txt", entry_points.encode()),
    ]
    record = "\n".join(_record_line(name, data) for name, data in files)
    files.append((f"{info}/RECORD", f"{record}\n{info}/RECORD,,\n".encode()))
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"distlab-{version}-py3-none-any.whl"
    write_zip(wheel, files)
    return wheel


def write_zip(
    path: Path, files: list[tuple[str, bytes]], *, executable: frozenset[str] = frozenset()
) -> None:
    """A zip of ``files`` (name, bytes), in that order, dated 1980-01-01: the same files give
    the same bytes. Names in ``executable`` get mode 755, the others 644."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = (0o755 if name in executable else 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
