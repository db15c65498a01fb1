"""distlab course build: a student repository that works, and holds no answer key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

from distlab._course import (
    answer_key_leaks,
    build_course,
    build_gradescope,
    hidden_test_names,
    student_spec,
    visible_tests_only,
)
from distlab._errors import ConfigError
from distlab._labs import Lab, find_lab, list_labs, load_lab

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DISTLAB_LABS"}
    return subprocess.run(
        [python, "-m", "distlab", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**env, "COLUMNS": "120"},
        check=False,
    )


def _everything(folder: Path) -> dict[str, str]:
    """Every file's text below ``folder``, and every archive member's."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            found[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        text = archive.read(member).decode("utf-8", errors="replace")
                        found[f"{path}!{member}"] = text
    return found


def test_a_course_of_every_lab_holds_no_solution_mutant_or_hidden_test(tmp_path: Path) -> None:
    labs = list_labs(ROOT / "labs")
    course = tmp_path / "course"
    build_course(labs, course)
    assert answer_key_leaks(labs, course) == []
    # The same, checked here on its own terms: names first, then the solutions' own lines.
    everything = _everything(course)
    assert not [name for name in everything if "solution.py" in name or "mutants" in name]
    hidden = set().union(*(hidden_test_names(lab_tests(lab)) for lab in labs))
    assert len(hidden) >= 4
    assert not [(n, t) for n, text in everything.items() for t in hidden if t in text]
    for lab in labs:
        student = course / "labs" / lab.path.name
        assert (student / "README.md").is_file() and (student / "demo.py").is_file()
        assert "# YOUR TASK" in (student / f"{lab.slug.split('-', 1)[1]}.py").read_text()
        assert load_lab(student).mutants == {}
    wheel = next((course / "vendor").glob("distlab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "distlab/_cli.py" in names and "distlab/grading/_grader.py" in names
    assert not [n for n in names if n.startswith("distlab/labs/")]


def lab_tests(lab: Lab) -> str:
    return "".join(p.read_text() for p in sorted((lab.path / "tests").glob("*.py")))


def test_the_leak_check_finds_a_solution_or_a_mutant_even_inside_an_archive(
    tmp_path: Path,
) -> None:
    lab = find_lab("1", ROOT / "labs")
    course = tmp_path / "course"
    build_course([lab], course)
    planted = course / "labs" / lab.path.name / "notes.py"
    planted.write_text(lab.solution.read_text())
    assert any(
        "notes.py has a line of the answer key" in leak for leak in answer_key_leaks([lab], course)
    )
    planted.unlink()
    mutant = next(iter(lab.mutants))
    with zipfile.ZipFile(course / "extra.zip", "w") as archive:
        archive.writestr("inside/copy.py", mutant.read_text())
    assert any("extra.zip!inside/copy.py" in leak for leak in answer_key_leaks([lab], course))
    with pytest.raises(ConfigError, match="not an empty folder"):
        build_course([lab], course)


def test_hidden_tests_and_the_mutants_table_are_cut_cleanly() -> None:
    source = '''from grading import graded


@graded(points=1)
async def test_seen(run):
    pass


@graded(points=1, seeds=3, visibility="hidden")
async def test_secret(run):
    """gone"""
    x = 1


@graded(points=2, visibility="visible")
async def test_also_seen(run):
    pass
'''
    visible = visible_tests_only(source)
    assert "test_secret" not in visible and "gone" not in visible
    assert "test_seen" in visible and "test_also_seen" in visible
    compile(visible, "visible", "exec")
    spec = student_spec(
        'title = "T"\nsolution = "solution.py"\n\n[config]\nn = 1\n\n'
        '# Known-buggy ones\n[mutants]\nbad = "test_secret"\n\n[tui]\ncolumns = ["n"]\n',
        "sum.py",
    )
    assert 'solution = "sum.py"' in spec
    assert "mutants" not in spec and "Known-buggy" not in spec and "test_secret" not in spec
    assert '[tui]\ncolumns = ["n"]' in spec and "[config]\nn = 1" in spec


def test_students_grade_their_own_file_from_the_course_folder(tmp_path: Path) -> None:
    lab = find_lab("0", ROOT / "labs")
    course = tmp_path / "course"
    build_course([lab], course)
    student = course / "labs" / "00-ping"
    handout = _run("grade", "0", "--seeds", "2", cwd=student)  # found from a subfolder too
    assert handout.returncode == 1
    assert handout.stdout.strip().splitlines()[-1] == "Points 0/12"
    (student / "ping.py").write_text(lab.solution.read_text())  # a student who solved it
    solved = _run("grade", "0", "--seeds", "2", cwd=course)
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert solved.stdout.strip().splitlines()[-1] == "Points 12/12"
    listed = _run("--labs", str(course / "labs"), "list", cwd=tmp_path)
    assert listed.stdout.split() == ["0", "00-ping", *lab.title.split()]


def _install_wheel(wheel: Path, venv: Path) -> tuple[str, str]:
    """A fresh venv with ``wheel`` in it: its python, and its site-packages folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # what an installer does with a pure-Python wheel
    # Its dependencies (trio, rich, textual) from this environment: no index needed here.
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site


def test_the_vendored_wheel_works_in_a_fresh_environment(tmp_path: Path) -> None:
    lab = find_lab("0", ROOT / "labs")
    course = tmp_path / "course"
    build_course([lab], course)
    (course / "labs" / "00-ping" / "ping.py").write_text(lab.solution.read_text())
    venv = tmp_path / "venv"
    python, site = _install_wheel(next((course / "vendor").glob("*.whl")), venv)
    where = subprocess.run(
        [python, "-c", "import distlab; print(distlab.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(site)
    assert not Path(site, "distlab", "labs").exists()
    ran = _run("run", "0", "--sim", "--seed", "3", cwd=course, python=python)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "the client got all 5 pongs" in ran.stdout
    graded = _run("grade", "0", "--seeds", "2", cwd=course, python=python)
    assert graded.stdout.strip().splitlines()[-1] == "Points 12/12", graded.stdout + graded.stderr
    imported = subprocess.run(
        [python, "-c", "import grading"], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert "No module named 'grading'" in imported.stderr  # no generic top-level names
    shutil.rmtree(course / "labs")
    lost = _run("list", cwd=tmp_path, python=python)
    assert lost.returncode == 2 and "no labs folder" in lost.stderr


def test_the_gradescope_autograder_grades_only_through_the_grader(tmp_path: Path) -> None:
    lab = find_lab("0", ROOT / "labs")
    autograder = tmp_path / "autograder.zip"
    build_gradescope(lab, autograder)
    assert answer_key_leaks([lab], autograder, hidden_tests_allowed=True) == []
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(autograder) as archive:
        names = archive.namelist()
        archive.extractall(source)
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert "labs/00-ping/tests/test_ping.py" in names and "setup.sh" in names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert hidden_test_names((source / "labs/00-ping/tests/test_ping.py").read_text())
    assert not [n for n in names if "solution" in n or "mutants" in n]
    _install_wheel(next((source / "vendor").glob("*.whl")), source / ".venv")
    (root / "submission").mkdir()
    results = root / "results" / "results.json"

    def grade(submitted: str) -> dict[str, Any]:
        (root / "submission" / "ping.py").write_text(submitted)
        done = subprocess.run(
            ["bash", str(source / "run_autograder")],
            env={**os.environ, "AUTOGRADER_ROOT": str(root)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(results.read_text())  # type: ignore[no-any-return]

    assert grade(lab.solution.read_text())["score"] == 13
    results.write_text('{"score": 13}')  # forged before grading: the grader's file replaces it
    assert grade((source / "labs/00-ping/ping.py").read_text())["score"] == 0
    mutant = ROOT / "labs/00-ping/mutants/forgets_progress.py"
    # A mutant as a student would submit it: one file (it loads the reference from where it is).
    copy = mutant.read_text().replace(
        'Path(__file__).resolve().parent.parent / "solution.py"', f"Path({str(lab.solution)!r})"
    )
    scored = grade(copy)
    failed = {t["name"] for t in scored["tests"] if t["score"] == 0}
    assert failed == {"test_progress_survives_a_client_crash"}
