"""hepcourse.grading: the test-cell helpers, submissions built from specs, and the release guard."""

import shutil

import nbformat
import numpy as np
import pytest

from hepcourse.grading import checks, release as rel
from hepcourse.grading.course import assignments, release_notebook, source_notebook
from hepcourse.grading.submissions import filled_release, solution_sources


def test_expect_close_explains_the_difference():
    checks.expect_close("x", 1.0, 1.0 + 1e-12, atol=1e-9)
    with pytest.raises(checks.CheckFailed, match=r"(?s)x: expected 2, got 1.*Hint: sign\?"):
        checks.expect_close("x", 1.0, 2.0, atol=1e-3, hint="sign?")
    with pytest.raises(checks.CheckFailed, match="1 of 3 values differ; e.g. at index \\(1,\\)"):
        checks.expect_close("v", [1, 5, 3], [1, 2, 3], atol=1e-3)
    with pytest.raises(checks.CheckFailed, match="NaN"):
        checks.expect_close("v", [np.nan], [1.0])
    with pytest.raises(checks.CheckFailed, match="expected numbers"):
        checks.expect_close("v", "abc", 1.0)


def test_range_shape_and_condition_checks():
    checks.expect_in_range("auc", 0.8, 0.7, 0.9)
    with pytest.raises(checks.CheckFailed, match=r"\[0.7, 0.9\], got 0.95"):
        checks.expect_in_range("auc", 0.95, 0.7, 0.9)
    with pytest.raises(checks.CheckFailed, match=r"shape \(3,\), got shape \(3, 1\)"):
        checks.expect_shape("r", np.zeros((3, 1)), (3,))
    with pytest.raises(checks.CheckFailed, match="bad"):
        checks.expect(False, "bad")


def test_own_implementation_check():
    def mine(x):
        return x + 1

    def borrowed(y, s):
        from hepcourse import metrics
        return metrics.auc(y, s)

    checks.expect_own_implementation(mine)
    with pytest.raises(checks.CheckFailed, match="implement it yourself"):
        checks.expect_own_implementation(borrowed)


def test_filled_release_answers_every_solution_cell():
    for assignment in assignments():
        sols = solution_sources(assignment)
        assert sols and not any("BEGIN SOLUTION" in s for s in sols.values())
        nb = filled_release(assignment)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "raise NotImplementedError()" not in text
        blank_one = next(iter(sols))
        nb = filled_release(assignment, blank=(blank_one,))
        assert sum("raise NotImplementedError()" in c.source for c in nb.cells if c.cell_type == "code") == 1
        with pytest.raises(KeyError):
            filled_release(assignment, {"no_such_cell": "pass"})


def test_release_refuses_to_overwrite_a_hand_edited_release(tmp_path):
    assignment = "ch01_classification"
    exercises = tmp_path / "exercises"
    shutil.copytree(release_notebook(assignment).parent, exercises / assignment)
    target = exercises / assignment / f"{assignment}.ipynb"
    # no recorded checksum: unknown provenance counts as edited
    with pytest.raises(rel.ModifiedReleaseError, match="--force"):
        rel.release([assignment], release_dir=exercises)
    rel.release([assignment], force=True, release_dir=exercises)
    assert (exercises / rel.CHECKSUMS_NAME).read_text().endswith(f"  {assignment}/{assignment}.ipynb\n")
    rel.release([assignment], release_dir=exercises)          # unchanged since release: fine
    nb = nbformat.read(target, as_version=4)
    nb.cells[0].source += "\nmy notes"
    nbformat.write(nb, target)
    with pytest.raises(rel.ModifiedReleaseError):
        rel.release([assignment], release_dir=exercises)
    assert "my notes" in target.read_text()                   # the edit survived


def test_sources_have_unique_grade_ids_and_locked_tests():
    for assignment in assignments():
        nb = nbformat.read(source_notebook(assignment), as_version=4)
        metas = [c.metadata["nbgrader"] for c in nb.cells]
        ids = [m["grade_id"] for m in metas]
        assert len(ids) == len(set(ids))
        for m in metas:
            assert "locked" in m
            if m["grade"]:
                assert m["locked"] and m["points"] > 0
