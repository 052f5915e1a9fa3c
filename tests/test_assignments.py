"""Every assignment, graded through hepcourse.grading.autograde (the nbgrader gradebook): the
reference solution scores full marks, the untouched release scores zero without crashing the
grader, each wrong-answer variant of tests/submissions/<assignment>.yml loses exactly the points of
the parts it gets wrong (with a message that teaches), and each right-answer variant (a correct
answer written another way: loops, other formulas, other libraries where allowed, banned names in
comments, other hyperparameters) gets full marks. Also: the committed release is what nbgrader
generates now, and the notebooks cite their sources as a reader expects.
"""

import re
from pathlib import Path

import nbformat
import pytest

from hepcourse.grading import autograde
from hepcourse.grading.course import assignments, release_notebook, source_notebook
from hepcourse.grading.release import generate_release, normalised
from hepcourse.grading.submissions import filled_release, load_variants

pytestmark = pytest.mark.grading
HERE = Path(__file__).parent
ASSIGNMENTS = assignments()


def test_there_are_assignments():
    assert "ch01_classification" in ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_regenerated_identically(assignment, tmp_path):
    fresh = generate_release(assignment, tmp_path)
    committed = release_notebook(assignment)
    assert committed.exists(), f"{committed} is missing: run `make release`"
    assert normalised(fresh) == normalised(committed), (
        f"{committed} differs from what nbgrader generates from solutions/: run `make release`")


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    """Grade the solution, the blank release and every variant of one assignment in one course."""
    assignment = request.param
    variants = load_variants(HERE / "submissions" / f"{assignment}.yml")
    submissions = {"solution": filled_release(assignment), "blank": release_notebook(assignment)}
    for name, spec in variants.items():
        submissions[name] = filled_release(assignment, spec["replace"])
    grades = autograde(assignment, submissions, workdir=tmp_path_factory.mktemp(assignment))
    return assignment, variants, grades


def test_solution_scores_full_marks(graded):
    assignment, _, grades = graded
    g = grades["solution"]
    failed = {k: p.message for k, p in g.parts.items() if not p.passed}
    assert g.score == g.max_score, f"{assignment} solution lost points: {failed}"
    assert 8 <= g.max_score <= 15, f"{assignment} has {g.max_score} points; an assignment has 8-15"
    assert 3 <= len({k for k in g.parts}) , "an assignment needs at least 3 graded parts"


def test_blank_release_scores_zero(graded):
    assignment, _, grades = graded
    g = grades["blank"]
    assert g.error == "", f"grading the blank release of {assignment} crashed: {g.error}"
    assert g.score == 0, {k: p.score for k, p in g.parts.items()}
    assert all("NotImplementedError" in p.message for p in g.parts.values()), \
        {k: p.message for k, p in g.parts.items()}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_assignment_has_wrong_and_right_variants(assignment):
    variants = load_variants(HERE / "submissions" / f"{assignment}.yml")
    wrong = [n for n, v in variants.items() if v["wrong_parts"]]
    right = [n for n, v in variants.items() if not v["wrong_parts"]]
    assert len(wrong) >= 4, f"{assignment} needs at least four wrong-answer variants, has {wrong}"
    assert len(right) >= 4, f"{assignment} needs at least four right-answer variants (wrong_parts: []), has {right}"
    for name, v in variants.items():
        assert v.get("description"), f"{assignment}/{name}: say what the variant does"


def test_right_answers_get_full_marks(graded):
    """A correct answer written another way never loses a point."""
    assignment, variants, grades = graded
    problems = {name: {k: p.message for k, p in grades[name].parts.items() if not p.passed}
                for name, spec in variants.items() if not spec["wrong_parts"]}
    problems = {k: v for k, v in problems.items() if v or grades[k].score != grades[k].max_score}
    assert not problems, f"{assignment}: right answers lost points: {problems}"


def test_variants_lose_exactly_their_parts(graded):
    assignment, variants, grades = graded
    full = {k: p.max_score for k, p in grades["solution"].parts.items()}
    problems = []
    for name, spec in variants.items():
        got = {k: p.score for k, p in grades[name].parts.items()}
        expected = {k: (0.0 if k in spec["wrong_parts"] else v) for k, v in full.items()}
        if got != expected:
            messages = {k: grades[name].parts[k].message for k in got if got[k] != expected[k]}
            problems.append(f"{name}: expected {expected}, got {got}; messages {messages}")
    assert not problems, "\n".join(problems)


def test_failed_parts_explain_themselves(graded):
    """A wrong answer gets a message from the test (a CheckFailed with a hint), not a bare error."""
    _, variants, grades = graded
    for name, spec in variants.items():
        for part in spec["wrong_parts"]:
            msg = grades[name].parts[part].message
            assert msg.startswith("CheckFailed:") and len(msg) > 30, f"{name}/{part}: {msg!r}"


def test_release_contains_no_solution_or_hidden_test():
    for assignment in ASSIGNMENTS:
        text = release_notebook(assignment).read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        nb = nbformat.read(release_notebook(assignment), as_version=4)
        assert any("raise NotImplementedError()" in c.source for c in nb.cells)


def test_notebooks_cite_sources_as_readers_expect():
    """The course cites "Plehn et al. [key], Sec. x.y", never its internal filing names."""
    filing = re.compile(r"\bseed\s*(?:\d{3}|item|eq\b|eqs?\.|text)|\bthe seed\b", re.IGNORECASE)
    for assignment in ASSIGNMENTS:
        for path in (source_notebook(assignment), release_notebook(assignment)):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                hit = filing.search(cell.source)
                assert not hit, f"{path.name}, cell {cell.get('id')}: {hit.group(0)!r}"
