"""Every link in the docs leads somewhere inside the project: nothing points outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "labs").glob("*/README.md")]
)
#: [text](target): a Markdown link; the target up to a space or ")"
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_link_stays_inside_the_project(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text, f"{doc.relative_to(ROOT)} refers to ../shared (not ours)"
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), f"{doc.relative_to(ROOT)}: {target} leaves the project"
        assert path.exists(), f"{doc.relative_to(ROOT)}: {target} does not exist"


def test_each_lab_readme_links_the_source_material() -> None:
    for readme in (ROOT / "labs").glob("*/README.md"):
        assert "docs/source-material.md" in readme.read_text(encoding="utf-8"), readme
