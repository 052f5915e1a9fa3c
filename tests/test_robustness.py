"""A class of hostile and broken submissions, graded in the sandbox next to the reference solution.

Each case of tests/submissions/robustness.yml is one student; every case must end with the
expected score and reason, and none may change anyone else's grade, the gradebook, the course
files, the grading machine's files or reach the network.
"""

import csv
import os
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest
import yaml

from hepcourse.config import ROOT
from hepcourse.grading import autograde
from hepcourse.grading.doctor import LoopbackListener
from hepcourse.grading.instructor import export_csv
from hepcourse.grading.sandbox import Limits, bwrap_path
from hepcourse.grading.submissions import build_submission, filled_release

pytestmark = pytest.mark.grading
SPEC = yaml.safe_load((Path(__file__).parent / "submissions" / "robustness.yml").read_text())
CASES = SPEC["cases"]

if bwrap_path() is None:
    if os.environ.get("CI", "").lower() in {"1", "true"}:
        raise RuntimeError("bubblewrap is missing in CI: `make test` installs it (apt-get install bubblewrap)")
    pytest.skip("bubblewrap is not installed (apt-get install bubblewrap): the sandbox cannot be tested",
                allow_module_level=True)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    course, host_tmp, inbox = base / "course", base / "host_tmp", base / "inbox"
    for d in (course, host_tmp, inbox):
        d.mkdir()
    listener = LoopbackListener()
    context = {"repo": str(ROOT), "workdir": str(course), "gradebook": str(course / "gradebook.db"),
               "port": str(listener.port), "host_tmp": str(host_tmp)}
    assignment = SPEC["assignment"]
    submissions = {"solution": filled_release(assignment)}
    for name, case in CASES.items():
        path = inbox / f"{name}.ipynb"
        path.write_bytes(build_submission(assignment, case, context))
        submissions[name] = path
    try:
        grades = autograde(assignment, submissions, workdir=course, jobs=2, sandbox=True, limits=Limits(**SPEC["limits"]))
    finally:
        listener.close()
    return {"grades": grades, "course": course, "host_tmp": host_tmp, "listener": listener, "base": base}


@pytest.mark.parametrize("case", list(CASES))
def test_case_gets_its_expected_outcome(graded, case):
    expect = CASES[case]["expect"]
    g = graded["grades"][case]
    summary = f"{case}: score {g.score}, manual {g.needs_manual_grade}, error {g.error!r}, " \
              f"parts { {k: (p.score, p.message[:80]) for k, p in g.parts.items()} }"
    assert g.score == expect["score"], summary
    assert g.needs_manual_grade == expect["manual"], summary
    if "reason" in expect:
        assert expect["reason"] in g.error, summary
    if "zero" in expect and g.parts:
        for gid, part in g.parts.items():
            assert part.score == (0 if gid in expect["zero"] else part.max_score), summary


def test_the_reference_solution_is_unaffected(graded):
    g = graded["grades"]["solution"]
    assert g.score == g.max_score == 15 and not g.needs_manual_grade and g.error == ""


def test_gradebook_is_intact(graded):
    db = sqlite3.connect(graded["course"] / "gradebook.db")
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    students = {r[0] for r in db.execute("select student_id from submitted_assignment")}
    assert "solution" in students and "tampers_with_gradebook" in students


def test_nothing_was_written_outside_the_sandbox(graded):
    assert not (ROOT / "tests" / "HACKED").exists()
    assert not (graded["host_tmp"] / "HACKED").exists()
    solution = graded["course"] / "submitted" / "solution" / "ch01_classification" / "ch01_classification.ipynb"
    assert nbformat.read(solution, as_version=4).cells, "another student's submission was overwritten"


def test_nothing_reached_the_network(graded):
    assert graded["listener"].connections == []


def test_huge_outputs_are_truncated(graded):
    for case in ("megabytes_in_one_line", "megabytes_in_many_lines"):
        nb = graded["course"] / "autograded" / case / "ch01_classification" / "ch01_classification.ipynb"
        assert nb.stat().st_size < 1_000_000, f"{case}: autograded notebook is {nb.stat().st_size} bytes"


def test_grades_export_has_a_row_and_a_reason_for_everyone(graded, tmp_path):
    path = export_csv(graded["grades"], tmp_path / "grades.csv")
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0])[:2] == ["student", "test_log_lr: Part A — the exact likelihood ratio"]
    assert list(rows[0])[-6:] == ["total", "max", "status", "reason", "submitted_at", "hours_late"]
    assert len(rows) == len(CASES) + 1 and len(path.read_text().splitlines()) == len(rows) + 1
    shutil.copy(path, graded["base"] / "grades.csv")
    by_student = {r["student"]: r for r in rows}
    assert by_student["os_exit"]["status"] == "needs manual grading" and "kernel died" in by_student["os_exit"]["reason"]
    assert by_student["not_json"]["total"] == "0" and "not a valid notebook" in by_student["not_json"]["reason"]
    assert by_student["not_json"]["status"] == by_student["empty_file"]["status"] == "needs manual grading"
    assert by_student["solution"]["total"] == "15" and by_student["solution"]["reason"] == ""
