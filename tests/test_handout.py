"""The student handout: solution blocks stubbed, and the stub still imports, runs and scores 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from distlab import ConfigError
from distlab._handout import count_blocks, stub_solution
from distlab._labs import Lab, list_labs

ROOT = Path(__file__).resolve().parent.parent
LABS = list_labs()


def test_a_marked_block_becomes_a_todo_that_raises() -> None:
    source = (
        "def f(x):\n"
        "    # SOLUTION: double x\n"
        "    y = x * 2\n"
        "    return y\n"
        "    # END SOLUTION\n"
        "\n"
        "def g():\n"
        "    return 1\n"
    )
    stubbed = stub_solution(source)
    assert stubbed == (
        "def f(x):\n"
        "    # YOUR TASK: double x\n"
        '    raise NotImplementedError("write this: see YOUR TASK above")\n'
        "\n"
        "def g():\n"
        "    return 1\n"
    )
    namespace: dict[str, object] = {}
    exec(stubbed, namespace)  # it still compiles and runs
    with pytest.raises(NotImplementedError):
        namespace["f"](1)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("# SOLUTION: a\nx = 1\n", "line 1: SOLUTION block never ends"),
        ("x = 1\n# END SOLUTION\n", "line 2: END SOLUTION without a SOLUTION"),
        ("# SOLUTION: a\n# SOLUTION: b\n# END SOLUTION\n", "a SOLUTION block inside another"),
    ],
)
def test_badly_marked_solutions_are_clear_errors(source: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        stub_solution(source)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_every_lab_solution_has_blocks_and_its_handout_imports(lab: Lab, tmp_path: Path) -> None:
    source = lab.solution.read_text()
    assert count_blocks(source) >= 2
    handout = tmp_path / lab.solution.name
    handout.write_text(stub_solution(source))
    spec = lab.cluster_spec(handout)  # imports, and defines every node class the lab needs
    assert {node.role for node in spec.nodes} == {role.role for role in lab.roles}


def test_handout_check_proves_the_handout_scores_zero_without_breaking_the_grader() -> None:
    # Every lab's handout is checked by distlab check (tests/test_grading.py); here, the command.
    result = subprocess.run(
        [sys.executable, "-m", "distlab", "handout", "0", "--check"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS the handout scores 0 and every test fails cleanly: 0/13" in result.stdout
