"""A course from distlab's labs: the repository students get, with no answer key in it.

What a student's copy of a lab holds: its README (without the instructors' claims table), its
lab.toml (without the mutants), the handout (the solution with its marked blocks stubbed, under
the lab's own name: ``sum.py`` for ``01-sum``), the lab's own nodes (client) and demo, and its
visible graded tests. What it never holds: the reference solution, a mutant, a hidden test. The
lab.toml's ``solution`` names the handout, so ``distlab lab 1``, ``run 1`` and ``grade 1`` in
the course run the student's file.
"""

from __future__ import annotations

import ast
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ._errors import ConfigError
from ._handout import stub_solution
from ._labs import SPEC_FILE, Lab
from ._version import __version__
from ._wheel import build_wheel, package_files, write_zip

#: the README section for instructors (claims -> tests -> mutants): not for students
INSTRUCTORS_SECTION = "## What the tests check"
_SOLUTION_LINE = re.compile(r'^solution\s*=\s*"[^"]*"', re.MULTILINE)


def student_file_name(lab: Lab) -> str:
    """The handout's name in a course: the lab's slug without its number (``sum.py``)."""
    return lab.slug.split("-", 1)[1].replace("-", "_") + ".py"


def visible_tests_only(source: str, *, name: str = "the test file") -> str:
    """The test file without its non-visible ``@graded`` tests (decorators included)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ConfigError(f"{name}, line {exc.lineno}: {exc.msg}") from None
    cut: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _hidden(node):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            cut.append((first, node.end_lineno or node.lineno))
    lines = source.splitlines(keepends=True)
    for first, last in reversed(cut):
        del lines[first - 1 : last]
    return re.sub(r"\n{4,}", "\n\n\n", "".join(lines)).rstrip("\n") + "\n"


def hidden_test_names(source: str) -> set[str]:
    """The names of the non-visible ``@graded`` tests in a test file."""
    return {
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _hidden(node)
    }


def _hidden(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "graded":
            for keyword in decorator.keywords:
                if keyword.arg == "visibility":
                    value = keyword.value
                    return not (isinstance(value, ast.Constant) and value.value == "visible")
    return False


def student_readme(text: str) -> str:
    """The lab's README without the instructors' section (which names mutants and hidden tests)."""
    start = text.find(f"\n{INSTRUCTORS_SECTION}")
    if start < 0:
        return text
    end = text.find("\n## ", start + 1)
    rest = text[end:] if end >= 0 else "\n"
    return text[:start].rstrip("\n") + "\n" + rest


def student_spec(text: str, student_file: str) -> str:
    """lab.toml for the course: ``solution`` names the student's file; no ``[mutants]`` table
    (nor the comment block just above it)."""
    lines = text.splitlines()
    out: list[str] = []
    skipping = False
    for line in lines:
        header = line.strip().startswith("[")
        if header:
            skipping = line.strip() == "[mutants]"
            if skipping:
                while out and (out[-1].startswith("#") or not out[-1].strip()):
                    out.pop()
        if not skipping:
            out.append(line)
    spec = "\n".join(out).rstrip("\n") + "\n"
    spec, found = _SOLUTION_LINE.subn(f'solution = "{student_file}"', spec, count=1)
    if not found:
        spec = f'solution = "{student_file}"\n' + spec
    return spec


def write_student_lab(lab: Lab, dest: Path, *, hidden_tests: bool = False) -> None:
    """Copy ``lab`` for students into ``dest`` (see the module's doc for what goes in); with
    ``hidden_tests``, every test stays (for an autograder students never see)."""
    if lab.solution.parent != lab.path:
        raise ConfigError(f"{lab.path / SPEC_FILE}: the solution must be in the lab's folder")
    dest.mkdir(parents=True)
    student_file = student_file_name(lab)
    answer_key = {lab.solution.resolve(), *(m.resolve() for m in lab.mutants)}
    for path in sorted(lab.path.rglob("*")):
        relative = path.relative_to(lab.path)
        if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if path.resolve() in answer_key or relative.parts[0] == "mutants":
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text(encoding="utf-8") if path.suffix in _TEXT else None
        if relative == Path(SPEC_FILE):
            text = student_spec(str(text), student_file)
        elif relative == Path("README.md"):
            text = student_readme(str(text))
        elif relative.parts[0] == "tests" and path.suffix == ".py" and not hidden_tests:
            text = visible_tests_only(str(text), name=str(path))
        if text is None:
            shutil.copyfile(path, target)
        else:
            target.write_text(text, encoding="utf-8")
    if (dest / student_file).exists():
        raise ConfigError(f"{lab.path}: it already has a file named {student_file}")
    handout = stub_solution(lab.solution.read_text(encoding="utf-8"), name=str(lab.solution))
    (dest / student_file).write_text(handout, encoding="utf-8")


#: lines shorter than this may well be in a public file too (``return total``)
_DISTINCT = 20


def answer_key_leaks(
    labs: list[Lab], output: Path, *, hidden_tests_allowed: bool = False
) -> list[str]:
    """Every place in ``output`` (a folder or a file: its files, and the members of the archives
    among them) that holds a
    reference solution, a mutant or (unless allowed) a hidden test of ``labs``: by name, or by
    a line of their code that no public file of the lab has. Empty when the course is clean."""
    answers: set[str] = set()
    public: set[str] = set()  # what students may see: the handouts, the labs' other files...
    hidden: set[str] = set()
    for lab in labs:
        solution = lab.solution.read_text(encoding="utf-8")
        public |= _lines(stub_solution(solution))
        answers |= _lines(solution)
        for mutant in lab.mutants:
            answers |= _lines(mutant.read_text(encoding="utf-8"))
        for path in sorted(lab.path.rglob("*.*")):
            if path.suffix not in _TEXT or path == lab.solution or "mutants" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            if "tests" in path.relative_to(lab.path).parts and path.suffix == ".py":
                if not hidden_tests_allowed:
                    hidden |= hidden_test_names(text)
                    text = visible_tests_only(text)
            elif path.name == "README.md":
                text = student_readme(text)
            public |= _lines(text)
    for _, data in package_files():  # ... and distlab itself
        public |= _lines(data.decode("utf-8", errors="replace"))
    secret = {line for line in answers - public if len(line) >= _DISTINCT}
    leaks = []
    for name, data in _contents(output):
        parts = PurePosixPath(name.replace("!", "/")).parts
        if "solution.py" in parts or "mutants" in parts:
            leaks.append(f"{name} is a file of the answer key")
        text = data.decode("utf-8", errors="replace")
        found = sorted(_lines(text) & secret)
        if found:
            leaks.append(f"{name} has a line of the answer key: {found[0]!r}")
        leaks += [f"{name} names the hidden test {t}" for t in sorted(hidden) if t in text]
    return leaks


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def _contents(where: Path) -> Iterator[tuple[str, bytes]]:
    """The file ``where``, or every file below the folder ``where``; and every member of each
    zip archive among them (wheels too)."""
    paths = [where] if where.is_file() else sorted(where.rglob("*"))
    for path in paths:
        if not path.is_file():
            continue
        name = path.name if path == where else path.relative_to(where).as_posix()
        data = path.read_bytes()
        yield name, data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{name}!{member}", archive.read(member)


_TEXT = {".py", ".md", ".toml", ".txt", ".json", ".yml", ".yaml", ".css"}


def build_course(labs: list[Lab], output: Path) -> list[Path]:
    """Write the course repository for ``labs`` into ``output`` (new, or an empty folder).

    Returns the files written, relative to ``output``.
    """
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ConfigError(f"{output}: not an empty folder; give --output a new folder")
    if not labs:
        raise ConfigError("no labs to build a course from: give --labs, e.g. --labs 1,3")
    output.mkdir(parents=True, exist_ok=True)
    for lab in labs:
        write_student_lab(lab, output / "labs" / lab.path.name)
    wheel = build_wheel(output / "vendor")
    (output / "pyproject.toml").write_text(_pyproject(wheel.name), encoding="utf-8")
    (output / "README.md").write_text(_readme(labs), encoding="utf-8")
    (output / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    workflow = output / ".github" / "workflows" / "classroom.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(_workflow(labs), encoding="utf-8")
    leaks = answer_key_leaks(labs, output)
    if leaks:  # a bug of distlab's, or a lab whose public files quote its answers
        raise ConfigError(
            f"{output}: the course holds parts of the answer key; nothing was removed, so do "
            "not hand it out: " + "; ".join(leaks[:5])
        )
    return sorted(p.relative_to(output) for p in output.rglob("*") if p.is_file())


def build_gradescope(lab: Lab, output: Path) -> Path:
    """Write a Gradescope autograder zip for ``lab``: ``setup.sh``, ``run_autograder``, the lab
    with all its tests (hidden ones too) and no solution or mutant, distlab as a wheel."""
    if output.suffix != ".zip":
        raise ConfigError(f"{output}: an autograder is a .zip file; name it e.g. autograder.zip")
    if output.exists():
        raise ConfigError(f"{output} exists already: remove it, or choose another name")
    with tempfile.TemporaryDirectory(prefix="distlab-gradescope-") as scratch:
        source = Path(scratch)
        write_student_lab(lab, source / "labs" / lab.path.name, hidden_tests=True)
        wheel = build_wheel(source / "vendor")
        (source / "pyproject.toml").write_text(_pyproject(wheel.name), encoding="utf-8")
        (source / "setup.sh").write_text(_SETUP, encoding="utf-8")
        (source / "run_autograder").write_text(_run_autograder(lab), encoding="utf-8")
        output.parent.mkdir(parents=True, exist_ok=True)
        files = [
            (path.relative_to(source).as_posix(), path.read_bytes())
            for path in sorted(source.rglob("*"))
            if path.is_file()
        ]
        write_zip(output, files, executable=frozenset({"setup.sh", "run_autograder"}))
    leaks = answer_key_leaks([lab], output, hidden_tests_allowed=True)
    if leaks:
        output.unlink()
        raise ConfigError(f"{output}: the autograder held parts of the answer key: {leaks[0]}")
    return output


#: Gradescope's setup: distlab and its dependencies, installed once when the image is built
_SETUP = """\
#!/usr/bin/env bash
set -euo pipefail
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m pip install --break-system-packages uv || python3 -m pip install uv
cd /autograder/source
uv sync  # distlab from vendor/, and what it needs
"""


def _run_autograder(lab: Lab) -> str:
    student_file = student_file_name(lab)
    return f"""\
#!/usr/bin/env bash
# Grades the submitted {student_file} with lab {lab.number}'s tests. The grader alone writes
# results.json (it always does, also when the file is missing or broken); a file already there
# is removed first, so nothing else can stand in for it.
set -uo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
cd "$root/source"
mkdir -p "$root/results"
rm -f "$root/results/results.json"
.venv/bin/python -m distlab grade {lab.number} \\
    --impl "$root/submission/{student_file}" \\
    --parallel 2 \\
    --format gradescope --output "$root/results/results.json"
code=$?
# 0: full marks, 1: fewer points; both are grades. Anything else is distlab failing.
if [ "$code" -gt 1 ] || [ ! -s "$root/results/results.json" ]; then
    echo "distlab grade exited with $code" >&2
    exit 1
fi
"""


def _pyproject(wheel_name: str) -> str:
    return f"""\
# The course's project: it installs distlab {__version__} from the wheel in vendor/ (no package
# index needed for distlab itself). `uv run distlab ...` sets it all up on first use.
[project]
name = "distlab-course"
version = "1.0.0"
requires-python = ">=3.11"
dependencies = ["distlab=={__version__}"]

[tool.uv]
package = false

[tool.uv.sources]
distlab = {{ path = "vendor/{wheel_name}" }}
"""


_GITIGNORE = """\
.venv/
__pycache__/
grading-traces/
*.jsonl
results.*
"""


def _readme(labs: list[Lab]) -> str:
    rows = "\n".join(
        f"| {lab.number} | {lab.title} | `labs/{lab.path.name}/{student_file_name(lab)}` |"
        for lab in labs
    )
    first = labs[0]
    return f"""\
# Distributed systems labs

Each lab is a small distributed system that you write and then break on purpose: crash its
nodes, lose its messages, cut its network, and see whether it recovers.

| lab | what you build | your file |
|---|---|---|
{rows}

## Start

You need [uv](https://docs.astral.sh/uv/) (`python3 -m pip install uv` works too). Then, from
this folder:

```console
$ uv run distlab lab {first.number}      # the lab's cluster, running your file, on screen
$ uv run distlab grade {first.number}    # the lab's graded tests on your file: Points X/Y
```

The first command installs distlab (from `vendor/`) and what it needs. Each lab's README
(`labs/NN-name/README.md`) tells the story, the protocol and what to write. Write your code in
the lab's file (the table above): every `# YOUR TASK` marks a part to write. `uv run distlab
--help` lists the other commands (`run`, `replay`, ...).

## Grading

`uv run distlab grade N` runs the lab's visible tests on your file, each on many seeds, and
prints a table and `Points X/Y`. A failure prints its seed and the command that replays exactly
that run. Pushing to this repository runs the same grader (`.github/workflows/classroom.yml`);
your instructor may also grade with tests you do not see here.
"""


def _workflow(labs: list[Lab]) -> str:
    steps = ""
    for lab in labs:
        steps += f"""
      - name: Lab {lab.number}
        id: lab-{lab.number}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: Lab {lab.number}
          command: uv run distlab grade {lab.number} --parallel 2
          timeout: 20
          max-score: 1
"""
    runners = ",".join(f"lab-{lab.number}" for lab in labs)
    results = "\n".join(
        f'          LAB-{lab.number}_RESULTS: "${{{{ steps.lab-{lab.number}.outputs.result }}}}"'
        for lab in labs
    )
    return f"""\
# Grades each lab with distlab's exit code (0 only on full marks). Built by distlab course build.
name: Autograding
on: [push, workflow_dispatch]

permissions:
  checks: write
  actions: read
  contents: read

jobs:
  grade:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - run: python3 -m pip install uv && uv sync
{steps}
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{results}
        with:
          runners: {runners}
"""
