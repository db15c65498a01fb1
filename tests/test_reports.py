"""The grade report's four formats: what they say, and that Gradescope and JUnit accept them."""

from __future__ import annotations

import copy
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from rich.console import Console

from distlab.grading._reports import (
    REPORT_FORMATS,
    ReportFormat,
    failure_lines,
    points_line,
    print_report,
    render_table,
    seeds_summary,
    to_gradescope,
    to_json,
    to_junit,
    write_report,
)
from distlab.grading._results import GradeReport, SeedResult, TestResult

SCHEMAS = Path(__file__).resolve().parent / "schemas"
REPLAY = "distlab grade 0 --impl nodes.py --test survives_drops --seed 7"
TRACE = "traces/survives_drops-seed7.jsonl"


@pytest.fixture(scope="module")
def gradescope_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / "gradescope-results.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd"))


def passes(*seeds: int) -> list[SeedResult]:
    return [SeedResult(seed, "passed", seconds=0.1, events=40) for seed in seeds]


def make_test(name: str, points: float, **kwargs: Any) -> TestResult:
    fields: dict[str, Any] = {
        "description": f"what {name} checks",
        "visibility": "visible",
        "budget": 10.0,
        "seeds_planned": 20,
    }
    fields.update(kwargs)
    return TestResult(name=name, points=points, **fields)


def make_report() -> GradeReport:
    dropped = SeedResult(
        7,
        "failed",
        "client got 4 of 5 pongs: pong 3 [seq=3] never arrived",
        seconds=0.2,
        events=80,
        trace=TRACE,
        replay=REPLAY,
    )
    dropped_again = SeedResult(13, "failed", "client got 3 of 5 pongs", trace="t13.jsonl")
    flaky = {7: dropped, 13: dropped_again}
    tests = [
        make_test("ping_once", 3, seeds=passes(*range(1, 21)), outcome="passed", seconds=2.0),
        make_test(
            "survives_drops",
            3,
            seeds=[flaky.get(seed) or passes(seed)[0] for seed in range(1, 21)],
            outcome="failed",
            message=dropped.message,
            seconds=4.5,
        ),
        make_test(
            "slow_network",
            2,
            seeds=[*passes(1, 2, 3), SeedResult(4, "timeout", "ran out of its 10 s budget")],
            outcome="timeout",
            message="ran out of its 10 s budget",
            seconds=10.0,
        ),
        make_test(
            "big_state",
            2,
            seeds=[SeedResult(1, "memory", "used 600 MB; the limit is 512 MB")],
            outcome="memory",
            seconds=1.0,
        ),
        make_test(
            "broken_checker",
            1,
            seeds=[SeedResult(1, "error", "Traceback (most recent call last):\n  KeyError: 'x'")],
            outcome="error",
            seconds=0.3,
        ),
        make_test(
            "after_interrupt",
            1,
            outcome="not_run",
            message="not run: grading was interrupted (Ctrl-C)",
        ),
        make_test(
            "hidden_partition",
            2.5,
            visibility="hidden",
            seeds=passes(*range(1, 21)),
            outcome="passed",
            seconds=3.0,
        ),
    ]
    return GradeReport(
        lab="0",
        impl="nodes.py",
        tests=tests,
        seconds=21.25,
        versions={"distlab": "0.1.0", "python": "3.12.1"},
        interrupted=True,
    )


@pytest.fixture
def report() -> GradeReport:
    return make_report()


def table_text(report: GradeReport) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None).print(render_table(report))
    return buffer.getvalue()


# --- text ------------------------------------------------------------------------------------


def test_the_points_line_has_no_needless_decimals(report: GradeReport) -> None:
    assert points_line(report) == "Points 5.5/14.5"
    whole = GradeReport("0", "x.py", report.tests[:2], 1.0, {})
    assert points_line(whole) == "Points 3/6"
    assert points_line(GradeReport("0", "x.py", [], 0.0, {})) == "Points 0/0"


def test_the_table_has_one_row_per_test_hidden_ones_included(report: GradeReport) -> None:
    table = render_table(report)
    assert table.row_count == len(report.tests)
    assert [c.header for c in table.columns] == ["test", "points", "result", "seeds", "time"]
    text = table_text(report)
    for words in (
        "hidden_partition (hidden)",
        "20/20 passed",
        "18/20 (90%)",  # flaky: the pass rate across seeds
        "3/4 (75%), 16 not run",
        "none of 20 run",
        "TIME LIMIT",
        "MEMORY LIMIT",
        "ERROR",
        "NOT RUN",
        "FAILED",
        "0/3",
        "2.5/2.5",
    ):
        assert words in text, words


def test_a_nearly_perfect_pass_rate_is_not_rounded_up_to_100_percent() -> None:
    seeds = [*passes(*range(1, 200)), SeedResult(200, "failed", "no")]
    test = make_test("flaky", 1, seeds=seeds, seeds_planned=200, outcome="failed")
    assert seeds_summary(test) == "199/200 (>99%)"


def test_failure_lines_say_what_failed_and_how_to_replay_it(report: GradeReport) -> None:
    lines = failure_lines(report)
    text = "\n".join(lines)
    assert all("\n" not in line for line in lines)
    assert "ping_once" not in text and "hidden_partition" not in text
    block = text.split("\n\n")[0].splitlines()
    assert block[0] == "FAILED survives_drops (0/3 points): what survives_drops checks"
    assert "pong 3 [seq=3] never arrived" in block[1]
    assert block[2] == "  seed: 7 (2 of 20 seeds run failed: 7, 13)"
    assert f"  trace: {TRACE}" in block
    assert f"  replay: {REPLAY}" in block
    assert "TIME LIMIT slow_network" in text
    assert "  seed: 4 (1 of 4 seeds run failed, 16 not run)" in lines
    assert "MEMORY LIMIT big_state" in text and "600 MB" in text
    assert "ERROR broken_checker" in text and "        KeyError: 'x'" in lines
    assert "NOT RUN after_interrupt" in text and "grading was interrupted (Ctrl-C)" in text
    assert len(text.split("\n\n")) == 5  # one block per test that did not pass


def test_a_grading_error_is_reported_in_text_and_for_gradescope(
    gradescope_schema: dict[str, Any],
) -> None:
    broken = GradeReport("9", "x.py", [], 0.0, {}, error="no lab 9")
    assert failure_lines(broken) == ["ERROR grading could not start", "  why: no lab 9"]
    results = to_gradescope(broken)
    jsonschema.validate(results, gradescope_schema)
    assert results["score"] == 0 and "no lab 9" in results["output"]
    assert results["extra_data"]["error"] == "no lab 9"


def test_the_printed_report_keeps_markup_and_long_commands_intact(report: GradeReport) -> None:
    buffer = io.StringIO()
    print_report(report, Console(file=buffer, width=60, color_system=None))
    text = buffer.getvalue()
    assert "[seq=3]" in text  # not swallowed as rich markup
    assert f"  replay: {REPLAY}\n" in text  # not wrapped, so it can be copied
    assert text.rstrip().endswith("Points 5.5/14.5")


# --- JSON and Gradescope -------------------------------------------------------------------------


def test_json_is_the_reports_plain_data(report: GradeReport) -> None:
    assert json.loads(to_json(report)) == json.loads(json.dumps(report.to_dict()))


def test_gradescope_results_match_gradescopes_schema(
    report: GradeReport, gradescope_schema: dict[str, Any]
) -> None:
    results = to_gradescope(report)
    jsonschema.validate(results, gradescope_schema)
    assert "max_score" not in results
    assert "Points 5.5/14.5" in results["output"]
    assert "interrupted" in results["output"]


def test_gradescope_scores_add_up_and_only_passes_score(report: GradeReport) -> None:
    results = to_gradescope(report)
    tests = {t["name"]: t for t in results["tests"]}
    assert results["score"] == sum(t["score"] for t in results["tests"]) == 5.5
    assert sum(t["max_score"] for t in results["tests"]) == 14.5
    for test in report.tests:
        entry = tests[test.name]
        assert entry["status"] == ("passed" if test.passed else "failed")
        assert entry["score"] == (test.points if test.passed else 0)
        assert entry["visibility"] == test.visibility
    assert tests["ping_once"]["output"] == "passed on all 20 seeds (pass rate 100%)"
    dropped = tests["survives_drops"]["output"]
    assert "seed: 7" in dropped and TRACE in dropped and REPLAY in dropped
    assert "pass rate: 18/20 (90%)" in dropped


def test_gradescope_extra_data_lists_seeds(report: GradeReport) -> None:
    extra = to_gradescope(report)["extra_data"]
    assert extra["lab"] == "0" and extra["impl"] == "nodes.py"
    assert extra["seeds"]["ping_once"] == list(range(1, 21))
    assert extra["seeds"]["after_interrupt"] == []
    assert extra["failing_seeds"]["survives_drops"] == [7, 13]
    assert extra["failing_seeds"]["slow_network"] == [4]
    assert extra["versions"] == {"distlab": "0.1.0", "python": "3.12.1"}
    assert extra["interrupted"] is True


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda r: r["tests"][1].update(status="error"), id="status-error"),
        pytest.param(lambda r: r["tests"][0].update(max_scroe=3), id="test-typo"),
        pytest.param(lambda r: r.update(exectution_time=1), id="top-level-typo"),
        pytest.param(lambda r: r.update(max_score=14.5), id="top-level-max-score"),
        pytest.param(lambda r: r["tests"][0].update(visibility="secret"), id="bad-visibility"),
        pytest.param(lambda r: r.update(output_format="markdown"), id="bad-format"),
        pytest.param(lambda r: r.update(score="5.5"), id="score-as-text"),
        pytest.param(
            lambda r: (r.pop("score"), r["tests"][0].pop("score")), id="no-score-anywhere"
        ),
    ],
)
def test_the_gradescope_schema_rejects_broken_results(
    report: GradeReport, gradescope_schema: dict[str, Any], spoil: Any
) -> None:
    results = copy.deepcopy(to_gradescope(report))
    spoil(results)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(results, gradescope_schema)


def test_the_gradescope_schema_accepts_scores_on_every_test_instead_of_a_total(
    report: GradeReport, gradescope_schema: dict[str, Any]
) -> None:
    results = to_gradescope(report)
    del results["score"]
    jsonschema.validate(results, gradescope_schema)


# --- JUnit ---------------------------------------------------------------------------------------


def junit_cases(xml: str) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in ET.fromstring(xml).iter("testcase")}


def properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iterfind("properties/property")}


def test_junit_matches_the_junit_schema(
    report: GradeReport, junit_schema: xmlschema.XMLSchema
) -> None:
    xml = to_junit(report)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    junit_schema.validate(xml)


def test_junit_counts_and_outcomes(report: GradeReport) -> None:
    root = ET.fromstring(to_junit(report))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "distlab.0"
    expected = {"tests": "7", "failures": "1", "errors": "3"}
    assert {k: root.get(k) for k in expected} == expected
    assert {k: suite.get(k) for k in expected} == expected
    assert suite.get("skipped") == "1" and suite.get("time") == "21.250"
    cases = junit_cases(to_junit(report))
    assert list(cases) == [t.name for t in report.tests]
    assert all(c.get("classname") == "distlab.0" for c in cases.values())
    assert [c.tag for c in cases["ping_once"]] == ["properties"]
    failure = cases["survives_drops"].find("failure")
    assert failure is not None and failure.get("type") == "CheckFailed"
    assert failure.get("message") == "client got 4 of 5 pongs: pong 3 [seq=3] never arrived"
    assert REPLAY in (failure.text or "")
    kinds = {name: cases[name].find("error") for name in ("slow_network", "big_state")}
    assert {n: e.get("type") for n, e in kinds.items() if e is not None} == {
        "slow_network": "TimeLimit",
        "big_state": "MemoryLimit",
    }
    broken = cases["broken_checker"].find("error")
    assert broken is not None and broken.get("type") == "Error"
    assert broken.get("message") == "KeyError: 'x'"  # a traceback's last line says most
    skipped = cases["after_interrupt"].find("skipped")
    assert skipped is not None and "interrupted" in skipped.get("message", "")


def test_junit_properties_and_replay(report: GradeReport) -> None:
    cases = junit_cases(to_junit(report))
    assert properties(cases["survives_drops"]) == {
        "seed": "7",
        "points": "3",
        "score": "0",
        "visibility": "visible",
        "pass_rate": "0.9",
    }
    assert properties(cases["hidden_partition"])["seed"] == "1"
    assert properties(cases["hidden_partition"])["visibility"] == "hidden"
    assert properties(cases["hidden_partition"])["score"] == "2.5"
    assert "seed" not in properties(cases["after_interrupt"])
    out = cases["survives_drops"].findtext("system-out")
    assert out == f"replay: {REPLAY}\ntrace: {TRACE}"
    assert cases["after_interrupt"].find("system-out") is None


def test_junit_survives_characters_xml_cannot_carry(junit_schema: xmlschema.XMLSchema) -> None:
    colored = "\x1b[31mboom\x1b[0m and a \x00"
    seeds = [SeedResult(1, "failed", colored)]
    report = GradeReport("0", "x.py", [make_test("t", 1, seeds=seeds, outcome="failed")], 1.0, {})
    xml = to_junit(report)
    junit_schema.validate(xml)
    assert "\\x1b[31mboom" in xml


def test_junit_shows_a_grading_error_as_an_error(junit_schema: xmlschema.XMLSchema) -> None:
    broken = GradeReport("9", "x.py", [], 0.0, {}, error="no lab 9\nthe labs are: 0")
    xml = to_junit(broken)
    junit_schema.validate(xml)
    root = ET.fromstring(xml)
    assert root.get("errors") == "1" and root.get("tests") == "1"
    assert junit_cases(xml)["grading"].find("error") is not None


VALID_CASE = '<testcase name="t" classname="c" time="0.1"/>'


@pytest.mark.parametrize(
    "document",
    [
        pytest.param('<testsuite name="s" tests="1">' + VALID_CASE + "</testsuite>", id="no-root"),
        pytest.param('<testsuites><testsuite name="s"/></testsuites>', id="suite-without-tests"),
        pytest.param(
            '<testsuites><testsuite name="s" tests="1"><testcase classname="c"/>'
            "</testsuite></testsuites>",
            id="case-without-name",
        ),
        pytest.param(
            '<testsuites><testsuite name="s" tests="1"><testcase name="t">'
            '<failure message="a"/><error message="b"/></testcase></testsuite></testsuites>',
            id="failure-and-error",
        ),
        pytest.param(
            '<testsuites><testsuite name="s" tests="1"><testcase name="t">'
            '<failure message="a"/><properties/></testcase></testsuite></testsuites>',
            id="properties-after-failure",
        ),
        pytest.param(
            '<testsuites><testsuite name="s" tests="one">' + VALID_CASE + "</testsuite>"
            "</testsuites>",
            id="count-not-a-number",
        ),
        pytest.param(
            '<testsuites><testsuite name="s" tests="1"><testcase name="t" time="-1"/>'
            "</testsuite></testsuites>",
            id="negative-time",
        ),
        pytest.param(
            '<testsuites><testsuite name="s" tests="1"><testcase name="t" outcome="ok"/>'
            "</testsuite></testsuites>",
            id="unknown-attribute",
        ),
        pytest.param(
            '<testsuites><testsuite name="s" tests="1"><testcase name="t"><properties>'
            '<property name="seed"/></properties></testcase></testsuite></testsuites>',
            id="property-without-value",
        ),
    ],
)
def test_the_junit_schema_rejects_malformed_documents(
    junit_schema: xmlschema.XMLSchema, document: str
) -> None:
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        junit_schema.validate(document)


def test_the_junit_schema_accepts_a_minimal_document(junit_schema: xmlschema.XMLSchema) -> None:
    junit_schema.validate(
        '<testsuites><testsuite name="s" tests="1">' + VALID_CASE + "</testsuite></testsuites>"
    )


# --- files ---------------------------------------------------------------------------------------


def parse(fmt: ReportFormat, text: str) -> object:
    if fmt in ("json", "gradescope"):
        return json.loads(text)
    if fmt == "junit":
        return ET.fromstring(text.encode("utf-8"))
    return text


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_write_report_writes_a_file_that_parses(
    report: GradeReport, fmt: ReportFormat, tmp_path: Path
) -> None:
    path = tmp_path / "out" / f"results.{fmt}"
    write_report(report, fmt, path)
    write_report(report, fmt, path)  # and replaces an existing one
    text = path.read_text(encoding="utf-8")
    assert parse(fmt, text)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_write_report_text_is_the_table_failures_and_points(
    report: GradeReport, tmp_path: Path
) -> None:
    path = tmp_path / "results.txt"
    write_report(report, "text", path)
    text = path.read_text()
    assert "\x1b" not in text  # no colour codes in a file
    assert "18/20 (90%)" in text and f"replay: {REPLAY}" in text
    assert max(len(line) for line in text.splitlines()) <= max(120, len(f"  replay: {REPLAY}"))
    assert text.splitlines()[-1] == "Points 5.5/14.5"


def test_write_report_leaves_the_old_file_when_rendering_fails(
    report: GradeReport, tmp_path: Path
) -> None:
    path = tmp_path / "results.json"
    path.write_text("old")
    with pytest.raises(ValueError, match="unknown report format"):
        write_report(report, "yaml", path)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_traceback_is_shown_once_however_many_tests_fail_with_it() -> None:
    traceback = (
        "    Traceback (most recent call last):\n"
        '      File "solution.py", line 66, in __init__\n'
        "        self.term = self.recall()\n"
        "    NotImplementedError: write this"
    )

    def stubbed(name: str) -> TestResult:
        message = f"2 crashes:\nreplica-1 crashed: NotImplementedError\n{traceback}\nreplica-2 "
        message += f"crashed: NotImplementedError\n{traceback}"
        failed = SeedResult(1, "failed", message, trace="t.jsonl", replay="distlab grade 4")
        return make_test(name, 1, seeds=[failed], outcome="failed", message=message)

    report = GradeReport("4", "stub.py", [stubbed("elects"), stubbed("grants")], 1.0, {})
    text = "\n".join(failure_lines(report))
    assert text.count("NotImplementedError: write this") == 1
    assert "(the same traceback as above)" in text  # the second node, in the same test
    assert "(the same traceback as in elects above)" in text  # the second test
    assert text.count("replica-2 crashed") == 2  # only the tracebacks are shortened
