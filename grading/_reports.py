"""A grading run's report in four formats: a terminal table, JSON, JUnit XML and Gradescope.

Every format is rendered from the same :class:`GradeReport`, so they agree on the points. Only
``passed`` earns a test's points; every other outcome scores 0.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Literal, TypeAlias, get_args

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._results import NOT_RUN_AFTER_ERROR, GradeReport, Outcome, SeedResult, TestResult

ReportFormat: TypeAlias = Literal["text", "json", "junit", "gradescope"]
#: The formats ``write_report`` knows, for the command line's ``--format`` choices.
REPORT_FORMATS: tuple[ReportFormat, ...] = get_args(ReportFormat)

#: How each outcome reads in the table and in the failure blocks, and its style in the table.
_LABELS: dict[Outcome, tuple[str, str]] = {
    "passed": ("passed", "green"),
    "failed": ("FAILED", "bold red"),
    "error": ("ERROR", "bold red"),
    "timeout": ("TIME LIMIT", "bold yellow"),
    "memory": ("MEMORY LIMIT", "bold yellow"),
    "not_run": ("NOT RUN", "dim"),
}
#: JUnit's element and ``type`` attribute for each outcome that is not a pass.
_JUNIT_KINDS: dict[Outcome, tuple[str, str]] = {
    "failed": ("failure", "CheckFailed"),
    "error": ("error", "Error"),
    "timeout": ("error", "TimeLimit"),
    "memory": ("error", "MemoryLimit"),
    "not_run": ("skipped", ""),
}
_FAILING_SEEDS_SHOWN = 10


# --- words shared by every format ------------------------------------------------------------


def format_number(x: float, places: int = 2) -> str:
    """``3`` not ``3.0``, ``2.5`` not ``2.50``: at most ``places`` decimals, none needless."""
    text = f"{x + 0.0:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def points_line(report: GradeReport) -> str:
    """``Points 5.5/14.5``: the line graders (and people) look for."""
    return f"Points {format_number(report.score)}/{format_number(report.max_score)}"


def _seeds_run(test: TestResult) -> int:
    """Seeds that ran (passed or not); the others were stopped or never started."""
    return sum(s.outcome != "not_run" for s in test.seeds)


def _passed_seeds(test: TestResult) -> int:
    return sum(s.outcome == "passed" for s in test.seeds)


def _percent(passed: int, ran: int) -> str:
    """Rounded, except that it never claims 100% (or 0%) when that is not exactly true.

    199 of 200 seeds is a flaky test, and "100%" would hide exactly what this column is for.
    """
    value = 100 * passed / ran
    if passed < ran and round(value) == 100:
        return ">99%"
    if passed > 0 and round(value) == 0:
        return "<1%"
    return f"{value:.0f}%"


def seeds_summary(test: TestResult) -> str:
    """The flakiness report: ``20/20 passed``, ``17/20 (85%)``, ``3/4 (75%), 16 not run``.

    The rate is over the seeds that actually ran: a test stopped by its time limit after four
    seeds says how those four went, and how many never ran. (``TestResult.pass_rate``, used in
    the machine-readable formats, divides by the seeds planned instead.)
    """
    ran = _seeds_run(test)
    planned, passed = test.seeds_planned, _passed_seeds(test)
    if ran == 0:
        return f"none of {planned} run"
    if passed == ran == planned:
        return f"{passed}/{ran} passed"
    words = f"{passed}/{ran} ({_percent(passed, ran)})"
    if ran < planned:
        words += f", {planned - ran} not run"
    return words


def _why(test: TestResult, failure: SeedResult | None) -> str:
    """The failure's own message if it has one, else the test's, else the outcome in words."""
    if failure is not None and failure.message:
        return failure.message
    if test.message:
        return test.message
    outcome = failure.outcome if failure is not None else test.outcome
    return {
        "failed": "a check failed",
        "error": "the test could not run",
        "timeout": f"ran out of its {format_number(test.budget)} s time budget",
        "memory": "went over the memory limit",
        "not_run": "the grader stopped before reaching this test",
    }.get(outcome, outcome)


def _failing_seeds(test: TestResult) -> list[int]:
    return [s.seed for s in test.seeds if s.outcome not in ("passed", "not_run")]


def _test_heading(test: TestResult) -> str:
    label = _LABELS[test.outcome][0]
    points = f"{format_number(test.score)}/{format_number(test.points)} points"
    described = f": {test.description}" if test.description else ""
    return f"{label} {test.name} ({points}){described}"


def _indented(label: str, text: str) -> list[str]:
    """``  label: first line`` with any further lines of ``text`` indented under it."""
    first, *rest = text.splitlines() or [""]
    return [f"  {label}: {first}", *(f"      {line}" for line in rest)]


def _without_repeated_tracebacks(text: str, seen: dict[str, str], test: str) -> str:
    """``text`` with each traceback already shown replaced by one line.

    ``seen`` maps each traceback shown so far to the test it was shown in; new ones are added
    under ``test``. A stub that raises fails every test with the same traceback: a student
    reads it once.
    """
    lines = text.splitlines()
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        if line.strip() != "Traceback (most recent call last):":
            kept.append(line)
            i += 1
            continue
        end = i + 1  # the frames, indented deeper, then the exception's line
        while end < len(lines) and len(lines[end]) - len(lines[end].lstrip()) > indent:
            end += 1
        end = min(end + 1, len(lines))
        block = "\n".join(lines[i:end])
        if block in seen:
            where = "" if seen[block] == test else f" in {seen[block]}"
            kept.append(" " * indent + f"(the same traceback as{where} above)")
        else:
            seen[block] = test
            kept.extend(lines[i:end])
        i = end
    return "\n".join(kept)


def failure_block(test: TestResult, *, tracebacks: dict[str, str] | None = None) -> list[str]:
    """One test that did not pass, in plain words: what failed, why, and how to see it again.

    ``tracebacks``: those shown so far (for a report's later tests): not repeated.
    """
    failure = test.first_failure
    why = _why(test, failure)
    if tracebacks is not None:
        why = _without_repeated_tracebacks(why, tracebacks, test.name)
    lines = [_test_heading(test), *_indented("why", why)]
    if failure is None:
        return lines
    failing = _failing_seeds(test)
    ran = _seeds_run(test)
    tally = f"{len(failing)} of {ran} seeds run failed"
    if ran < test.seeds_planned:
        tally += f", {test.seeds_planned - ran} not run"
    if len(failing) > 1:
        tally += ": " + ", ".join(str(s) for s in failing[:_FAILING_SEEDS_SHOWN])
        tally += ", …" if len(failing) > _FAILING_SEEDS_SHOWN else ""
    lines.append(f"  seed: {failure.seed} ({tally})")
    lines.append(f"  trace: {failure.trace or 'not kept'}")
    with_trace = [s.seed for s in test.seeds if s.trace is not None]
    if len(with_trace) < len(failing) and len(with_trace) > 1:
        shown = ", ".join(map(str, with_trace))
        lines.append(
            f"  traces kept: seeds {shown}, the first failing ones (--keep-traces all keeps every "
            "failing seed's)"
        )
    if failure.replay:
        lines.append(f"  replay: {failure.replay}")
    return lines


def failure_lines(report: GradeReport) -> list[str]:
    """A block per test that did not pass, blocks separated by an empty line; one line each."""
    lines: list[str] = []
    if report.error:
        lines = ["ERROR grading could not start", *_indented("why", report.error)]
    tracebacks: dict[str, str] = {}
    for test in report.tests:
        if test.passed or (report.error and test.message == NOT_RUN_AFTER_ERROR):
            continue  # (said once, in the report's error)
        if lines:
            lines.append("")
        lines.extend(failure_block(test, tracebacks=tracebacks))
    return lines


def leftover_lines(report: GradeReport) -> list[str]:
    """One line per process the submission left running (the grader killed it)."""
    return [f"killed a process your code left running: {process}" for process in report.leftovers]


def warning_lines(report: GradeReport) -> list[str]:
    """The wall-clock and unseeded-random calls any seed recorded, once each (passing or not)."""
    if not report.warnings:
        return []
    return [
        "WARNING your code takes time or chance from outside its node: a seed may not run the "
        "same twice",
        *(f"  - {call}" for call in report.warnings),
    ]


def notice_lines(report: GradeReport) -> list[str]:
    """What the report says besides the verdicts: leftover processes, nondeterministic calls."""
    lines: list[str] = []
    for block in (leftover_lines(report), warning_lines(report)):
        if block and lines:
            lines.append("")
        lines.extend(block)
    return lines


# --- the terminal ------------------------------------------------------------------------------


def _name_cell(test: TestResult) -> Text:
    name = Text(test.name)
    if test.visibility != "visible":
        name.append(f" ({test.visibility.replace('_', ' ')})", style="dim")
    return name


def render_table(report: GradeReport) -> Table:
    """One row per test, hidden ones included (the students' runs are graded by instructors)."""
    table = Table(title=f"distlab grade {report.lab}: {report.impl}", title_justify="left")
    table.add_column("test", overflow="fold")
    table.add_column("points", justify="right")
    table.add_column("result")
    table.add_column("seeds")
    table.add_column("time", justify="right")
    for test in report.tests:
        label, style = _LABELS[test.outcome]
        table.add_row(
            _name_cell(test),
            f"{format_number(test.score)}/{format_number(test.points)}",
            Text(label, style=style),
            Text(seeds_summary(test)),
            f"{test.seconds:.1f}s",
        )
    return table


def print_report(report: GradeReport, console: Console) -> None:
    """The table, the failure blocks, the notices (processes left running, nondeterministic
    calls) and last the points line, as ``distlab grade`` prints them.

    Lines are printed as ``Text`` (never parsed as rich markup: messages may contain ``[...]``)
    and with ``soft_wrap`` so a long replay command stays one line that can be copied.
    """
    console.print(render_table(report))
    for lines in (failure_lines(report), notice_lines(report)):
        if lines:
            console.print()
            for line in lines:
                console.print(Text(line), soft_wrap=True)
    console.print()
    console.print(Text(points_line(report), style="bold"), soft_wrap=True)


def render_text(report: GradeReport) -> str:
    """``print_report`` as plain text: 120 columns, no colour."""
    buffer = io.StringIO()
    print_report(report, Console(file=buffer, width=120, color_system=None))
    return buffer.getvalue()


# --- JSON and Gradescope -----------------------------------------------------------------------


def to_json(report: GradeReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _gradescope_output(test: TestResult) -> str:
    if test.passed and len(test.seeds) == test.seeds_planned:
        return f"passed on all {test.seeds_planned} seeds (pass rate 100%)"
    lines = failure_block(test) if not test.passed else [_test_heading(test)]
    lines.append(f"pass rate: {seeds_summary(test)}")
    return "\n".join(lines)


def _gradescope_summary(report: GradeReport) -> str:
    passed = sum(t.passed for t in report.tests)
    lines = [points_line(report), f"{passed} of {len(report.tests)} tests passed."]
    if report.error:
        lines.append(f"Grading could not start: {report.error}")
    if report.interrupted:
        lines.append("Grading was interrupted: the tests that did not run score 0.")
    notices = notice_lines(report)
    if notices:
        lines += ["", *notices]
    return "\n".join(lines)


def to_gradescope(report: GradeReport) -> dict[str, Any]:
    """Gradescope's ``results.json``.

    Gradescope knows only ``passed`` and ``failed``: time limits, errors and tests that never
    ran are ``failed`` with score 0, and the output says which. The total ``max_score`` is left
    out (Gradescope takes it from the assignment's settings); each test carries its own.
    """
    return {
        "score": float(report.score),
        "execution_time": round(report.seconds, 2),
        "output": _gradescope_summary(report),
        "tests": [
            {
                "name": test.name,
                "score": float(test.score),
                "max_score": float(test.points),
                "status": "passed" if test.passed else "failed",
                "output": _gradescope_output(test),
                "visibility": test.visibility,
            }
            for test in report.tests
        ],
        "extra_data": {
            "lab": report.lab,
            "impl": report.impl,
            "seeds": {t.name: [s.seed for s in t.seeds] for t in report.tests},
            "failing_seeds": {t.name: _failing_seeds(t) for t in report.tests},
            "versions": dict(report.versions),
            "interrupted": report.interrupted,
            "error": report.error,
            "leftovers": list(report.leftovers),
            "warnings": report.warnings,
        },
    }


# --- JUnit XML ---------------------------------------------------------------------------------

#: Characters XML 1.0 cannot carry at all, not even escaped (NUL, most C0 controls, the ESC of
#: ANSI colour codes, lone surrogates). ElementTree writes them as they are, producing a file
#: that no parser reads, so they are spelled out first.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _first_line(text: str) -> str:
    """The one line that says most: a traceback's last line (the exception), else the first."""
    lines = [line for line in text.splitlines() if line.strip()] or [""]
    return (
        lines[-1].strip() if lines[0].startswith("Traceback (most recent call last)") else lines[0]
    )


def _seconds(x: float) -> str:
    return f"{max(0.0, x):.3f}"


def _properties(parent: ET.Element, values: dict[str, str]) -> None:
    properties = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=_xml_safe(value))


def _testcase_properties(test: TestResult) -> dict[str, str]:
    """The seed is the failing one, or the first seed run when the test passed."""
    failure = test.first_failure
    seed = failure if failure is not None else (test.seeds[0] if test.seeds else None)
    values = {"seed": str(seed.seed)} if seed is not None else {}
    values.update(
        points=format_number(test.points),
        score=format_number(test.score),
        visibility=test.visibility,
        pass_rate=format_number(test.pass_rate, places=4),
    )
    return values


def _system_out(test: TestResult) -> str:
    seed = test.first_failure or (test.seeds[0] if test.seeds else None)
    if seed is None:
        return ""
    lines = [f"replay: {seed.replay}"] if seed.replay else []
    if seed.trace:
        lines.append(f"trace: {seed.trace}")
    return "\n".join(lines)


def _testcase(suite: ET.Element, classname: str, test: TestResult) -> None:
    case = ET.SubElement(
        suite, "testcase", classname=classname, name=test.name, time=_seconds(test.seconds)
    )
    _properties(case, _testcase_properties(test))
    if not test.passed:
        tag, kind = _JUNIT_KINDS[test.outcome]
        message = _xml_safe(_first_line(_why(test, test.first_failure)))
        if tag == "skipped":
            ET.SubElement(case, tag, message=message)
        else:
            detail = ET.SubElement(case, tag, message=message, type=kind)
            detail.text = _xml_safe("\n".join(failure_block(test)))
    out = _system_out(test)
    if out:
        ET.SubElement(case, "system-out").text = _xml_safe(out)


def _grading_error(suite: ET.Element, classname: str, error: str) -> None:
    """A report whose grading could not start gets a testcase saying so.

    Without it the suite would hold no tests at all, which CI tools show as green.
    """
    case = ET.SubElement(suite, "testcase", classname=classname, name="grading", time="0.000")
    detail = ET.SubElement(case, "error", message=_xml_safe(_first_line(error)), type="Error")
    detail.text = _xml_safe(error)


def _counts(report: GradeReport) -> dict[str, str]:
    outcomes = [t.outcome for t in report.tests] + (["error"] if report.error else [])
    return {
        "tests": str(len(outcomes)),
        "failures": str(outcomes.count("failed")),
        "errors": str(sum(o in ("error", "timeout", "memory") for o in outcomes)),
    }


def to_junit(report: GradeReport) -> str:
    """JUnit XML: one ``testsuite`` for the lab, one ``testcase`` per test.

    The declaration is written by hand: ElementTree's own, with ``encoding="unicode"``, names
    the locale's encoding, which need not be the UTF-8 the file is written in.
    """
    name, time = f"distlab.{report.lab}", _seconds(report.seconds)
    counts = _counts(report)
    root = ET.Element("testsuites", {"name": f"distlab grade {report.lab}", **counts, "time": time})
    skipped = str(sum(t.outcome == "not_run" for t in report.tests))
    suite = ET.SubElement(
        root, "testsuite", {"name": name, **counts, "skipped": skipped, "time": time}
    )
    suite_properties = {
        "impl": report.impl,
        "score": format_number(report.score),
        "max_score": format_number(report.max_score),
        "interrupted": str(report.interrupted).lower(),
    }
    suite_properties.update({f"version.{k}": v for k, v in report.versions.items()})
    suite_properties.update({f"leftover.{i}": p for i, p in enumerate(report.leftovers, 1)})
    suite_properties.update({f"warning.{i}": w for i, w in enumerate(report.warnings, 1)})
    _properties(suite, suite_properties)
    if report.error:
        _grading_error(suite, name, report.error)
    for test in report.tests:
        _testcase(suite, name, test)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


# --- files -------------------------------------------------------------------------------------


def render(report: GradeReport, fmt: ReportFormat) -> str:
    """The report as the text of a file in the chosen format."""
    if fmt == "text":
        return render_text(report)
    if fmt == "json":
        return to_json(report) + "\n"
    if fmt == "junit":
        return to_junit(report) + "\n"
    if fmt == "gradescope":
        return json.dumps(to_gradescope(report), indent=2) + "\n"
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(REPORT_FORMATS)}")


def write_report(report: GradeReport, fmt: ReportFormat, path: Path) -> None:
    """Write the report to ``path`` atomically: readers see the old file or the whole new one.

    A grader killed mid-write (a CI timeout, Gradescope's limit) must not leave a truncated
    ``results.json`` behind, so the text goes to a temporary file in the same directory first
    (``os.replace`` is atomic only within one filesystem). The temporary file is created with
    mode 0o666 so the umask, not ``tempfile``'s 0o600, decides who may read the result.
    """
    data = render(report, fmt).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


__all__ = [
    "REPORT_FORMATS",
    "ReportFormat",
    "failure_block",
    "failure_lines",
    "format_number",
    "leftover_lines",
    "notice_lines",
    "points_line",
    "print_report",
    "render",
    "render_table",
    "render_text",
    "seeds_summary",
    "to_gradescope",
    "to_json",
    "to_junit",
    "warning_lines",
    "write_report",
]
