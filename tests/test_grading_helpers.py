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
    with pytest.raises(checks.CheckFailed, match="1 of 3 values differ; the largest difference at index \\(1,\\)"):
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


def test_expect_close_shows_the_digits_that_differ():
    """A float32 answer against a float64 reference: the message shows the difference, not
    "expected -2.25085, got -2.25085"."""
    exact = -2.2508512345678
    got = float(np.float32(exact))
    with pytest.raises(checks.CheckFailed, match=r"expected -2\.25085123?\d*, got -2\.2508512?\d* \(they differ by [0-9.]+e-0[78]\)"):
        checks.expect_close("conv", got, exact, atol=1e-10, rtol=0)
    with pytest.raises(checks.CheckFailed, match="largest difference at index \\(2,\\)"):
        checks.expect_close("v", [1.0, 1.5, 9.0], [1.0, 1.0, 1.0], atol=0.1)


def test_expect_call_turns_errors_into_messages():
    assert checks.expect_call("f", lambda a, b=1: a + b, 1, b=2) == 3
    with pytest.raises(checks.CheckFailed, match=r"(?s)edge_conv\(x, idx\) raised RuntimeError: boom.*Hint: shapes"):
        checks.expect_call("edge_conv(x, idx)", lambda: (_ for _ in ()).throw(RuntimeError("boom")), hint="shapes")
    with pytest.raises(NotImplementedError):            # an unanswered part stays recognisable
        checks.expect_call("f", lambda: (_ for _ in ()).throw(NotImplementedError()))


# ---------------------------------------------------------------- implemented, not imported
import math                                                    # noqa: E402
import scipy.stats as st                                       # noqa: E402
import torch                                                   # noqa: E402
import torch.nn.functional as F                                # noqa: E402
from scipy.stats import multivariate_normal                    # noqa: E402


def own_nll(y, mu, log_sigma):
    """Like torch.distributions.Normal(mu, sigma).log_prob(y), negated; no GaussianNLLLoss here."""
    # a comment naming logpdf, log_prob, kl_divergence, vector, roc_auc_score
    log_prob = -0.5 * (y - mu) ** 2 * torch.exp(-2 * log_sigma) - log_sigma - 0.5 * math.log(2 * math.pi)
    distributions = "torch.distributions"          # a string and a variable with banned words
    vector = log_prob                                # a variable named like a library
    return -vector.mean() if distributions else None


def own_helper_user(x):
    return _own_helper(x) + 1


def _own_helper(x):
    return x * 2


def borrowed_helper_user(x):
    return _borrowed_helper(x)


def _borrowed_helper(x):
    return st.norm.logpdf(x)


def _alias_call(x):
    return st.norm.logpdf(x)


def _global_name(x):
    return multivariate_normal([0, 0], [[1, 0], [0, 1]]).logpdf(x)


def _getattr_call(x, w):
    return getattr(F, "conv2d")(x, w)


def _dunder_import():
    return __import__("hepcourse.metrics")


_lambda_answer = lambda x: st.norm.logpdf(x)                   # noqa: E731
_lambda_own = lambda x: x ** 2 / 2                             # noqa: E731


def _from_import(x):
    from scipy.stats import norm
    return norm.pdf(x)


def _import_as(y, mu, s):
    import torch.distributions as D
    return -D.Normal(mu, s).log_prob(y).mean()


def _hepcourse_import(y, s):
    from hepcourse import metrics
    return metrics.auc(y, s)


def test_own_implementation_ignores_comments_strings_docstrings_and_variable_names():
    forbidden = ("hepcourse", "logpdf", "log_prob", "distributions", "kl_divergence", "vector", "roc_auc_score",
                 "GaussianNLLLoss")
    checks.expect_own_implementation(own_nll, forbidden)
    checks.expect_own_implementation(own_helper_user, ("logpdf", "hepcourse"))
    checks.expect_own_implementation(_lambda_own, ("logpdf", "hepcourse"))
    y = torch.tensor([0.0, 1.0])
    assert torch.isclose(own_nll(y, y, torch.zeros(2)), torch.tensor(0.5 * math.log(2 * math.pi)))


def test_own_implementation_catches_real_uses():
    cases = {
        "st.norm.logpdf": (_alias_call, ("logpdf",), "scipy.stats.norm.logpdf"),
        "from scipy.stats import norm": (_from_import, ("scipy.stats",), "scipy.stats.norm"),
        "import torch.distributions as D": (_import_as, ("distributions",), "torch.distributions"),
        "D.Normal(...).log_prob": (_import_as, ("log_prob",), "log_prob"),
        "global multivariate_normal": (_global_name, ("multivariate_normal",), "multivariate_normal"),
        "getattr(F, 'conv2d')": (_getattr_call, ("conv2d",), "torch.nn.functional.conv2d"),
        "__import__('hepcourse.metrics')": (_dunder_import, ("hepcourse",), "hepcourse.metrics"),
        "a lambda": (_lambda_answer, ("logpdf",), "logpdf"),
        "from hepcourse import metrics": (_hepcourse_import, ("hepcourse",), "hepcourse.metrics"),
        "a helper that calls logpdf": (borrowed_helper_user, ("logpdf",), "in helper _borrowed_helper"),
    }
    for label, (func, forbidden, shown) in cases.items():
        with pytest.raises(checks.CheckFailed) as err:
            checks.expect_own_implementation(func, forbidden, why="the test compares with it")
        msg = str(err.value)
        assert shown in msg and "Not allowed in this part: the test compares with it" in msg, (label, msg)
        assert "comments, strings" in msg, msg


def test_used_names_resolves_aliases_and_keeps_only_attributes_of_locals():
    def f(x):
        y = F.pad(x, (1, 1))
        return y.sum() + torch.nn.functional.relu(x).mean()

    names = [n for n, _ in checks.used_names(f)]
    assert "torch.nn.functional.pad" in names and "torch.nn.functional.relu" in names
    assert "sum" in names and "mean" in names and not any(n.startswith("y.") for n in names)
    assert not any(n in ("torch.nn", "torch.nn.functional") for n in names)     # only the full chains


def test_own_implementation_needs_readable_source():
    with pytest.raises(checks.CheckFailed, match="could not read the source"):
        checks.expect_own_implementation(eval("lambda x: x"))     # no file to read it from
    with pytest.raises(checks.CheckFailed, match="could not read the source"):
        checks.expect_own_implementation(len)


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


def test_warnings_in_a_test_cell_do_not_cost_points():
    """nbgrader zeroes a test cell with stderr output: a right answer that makes torch warn lost its part
    (found by chapter 05's right-answer variants). The grader shows such output as stdout instead."""
    from hepcourse.grading.grader import stderr_as_stdout

    def cell(grade, solution, outputs):
        c = nbformat.v4.new_code_cell("x = 1")
        c.metadata["nbgrader"] = {"grade": grade, "solution": solution, "grade_id": "g", "points": 1}
        c.outputs = [nbformat.from_dict(o) for o in outputs]
        return c

    warn = {"output_type": "stream", "name": "stderr", "text": "UserWarning: non-contiguous input\n"}
    error = {"output_type": "error", "ename": "CheckFailed", "evalue": "wrong", "traceback": []}
    nb = nbformat.v4.new_notebook(cells=[cell(True, False, [warn, error]), cell(False, True, [warn]),
                                         cell(True, False, [{"output_type": "stream", "name": "stdout", "text": "ok\n"}])])
    assert stderr_as_stdout(nb) == 1
    test, answer, _ = nb.cells
    assert [o.get("name") for o in test.outputs] == ["stdout", None] and test.outputs[1].output_type == "error"
    assert answer.outputs[0].name == "stderr"                          # an answer cell is not graded by its output


def test_own_implementation_catches_a_function_imported_whole():
    """`from hepcourse.decorrelation import grad_reverse` defines no code of the learner's: the check
    looks at where the function comes from, not only at what its code calls."""
    from hepcourse.decorrelation import grad_reverse

    with pytest.raises(checks.CheckFailed, match="hepcourse.decorrelation.grad_reverse, imported"):
        checks.expect_own_implementation(grad_reverse, ("hepcourse",))
    with pytest.raises(checks.CheckFailed, match="imported"):
        checks.expect_own_implementation(grad_reverse, ("decorrelation",))
    checks.expect_own_implementation(grad_reverse, ("sklearn",))            # not a forbidden origin


# ---------------------------------------------------------------- messages of the grading report
def test_a_timed_out_cell_reports_its_time_limit_not_a_keyboard_interrupt():
    from hepcourse.grading.grader import _error_message

    def err(ename, evalue=""):
        return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}

    timed_out = {"outputs": [err("KeyboardInterrupt"), err("CellTimeoutError", "the cell ran longer than 90 s and was interrupted")]}
    assert _error_message(timed_out).startswith("CellTimeoutError: the cell ran longer than 90 s and was interrupted: your code is too slow")
    assert "KeyboardInterrupt" not in _error_message({"outputs": [err("KeyboardInterrupt")]})
    assert _error_message({"outputs": [err("CheckFailed", "expected 4, got 3")]}) == "CheckFailed: expected 4, got 3"
    assert "not answered yet" in _error_message({"outputs": [err("NotImplementedError")]})
