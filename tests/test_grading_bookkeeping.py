"""nbgrader's bookkeeping made cheap (hepcourse.grading.bookkeeping) gives exactly plain nbgrader's results.

No notebook runs here: the outputs of each submission are made up (every other test cell fails), so
that the two ways of preparing and recording a submission can be compared on their own:

* plain nbgrader, as the grader used it before: a new database engine per ``Gradebook``, the
  submission sanitized again when recording, nbgrader's ``CheckCellMetadata`` and ``SaveAutoGrades``;
* the grader's way now: one engine per gradebook, the database revision read in-process, the sanitized
  notebook reused, the metadata schema checked once, one commit per notebook.

Both must write the same sanitized and autograded notebooks (byte for byte, but for the random id nbgrader
gives a test cell it adds back), the same scores, flags, comments and database revision into the gradebook,
and the same grade and reason for a submission nbgrader cannot prepare.
"""

import copy
import json
from contextlib import nullcontext

import nbformat
import pytest

from hepcourse.grading import bookkeeping, grader
from hepcourse.grading.course import release_notebook, source_notebook
from hepcourse.grading.sandbox import Execution
from hepcourse.grading.submissions import filled_release

pytestmark = pytest.mark.grading
A = "ch01_classification"


def _validation_outcome(validator, cell):
    try:
        validator.validate_cell(cell)
    except Exception as err:  # noqa: BLE001  (the outcome compared is the exception itself)
        return type(err).__name__, str(err)
    return None


def test_metadata_validation_is_nbgraders():
    from nbgrader.nbgraderformat import MetadataValidator

    source = nbformat.read(source_notebook(A), as_version=4)
    assert bookkeeping.MetadataValidatorOnce().validate_nb(source) is None
    test_cell = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")
                     and not c.metadata["nbgrader"].get("solution"))
    broken = {"points as text": {"points": "three"}, "unknown key": {"colour": "red"},
              "old schema": {"schema_version": 1}, "newer schema": {"schema_version": 9},
              "no grade_id": {"grade_id": None}, "grade as text": {"grade": "yes"}, "fine": {}}
    seen = set()
    for name, change in broken.items():
        cell = copy.deepcopy(test_cell)
        cell.metadata.nbgrader.update(change)
        cell.metadata.nbgrader = {k: v for k, v in cell.metadata.nbgrader.items() if v is not None}
        ours, theirs = _validation_outcome(bookkeeping.MetadataValidatorOnce(), cell), \
            _validation_outcome(MetadataValidator(), cell)
        assert ours == theirs, name
        seen.add(ours and ours[0])
    assert seen == {None, "ValidationError", "SchemaTooOldError", "SchemaTooNewError"}


def _made_up_outputs(run, student):
    """executed.ipynb: the sanitized notebook with outputs, every other test cell failing."""
    nb = nbformat.read(run.runs / student / "sanitized.ipynb", as_version=4)
    tests = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
        cell.execution_count = 1
        if grader._is_test(cell):
            tests += 1
            if tests % 2:
                cell.outputs.append(nbformat.v4.new_output("error", ename="AssertionError", evalue="made up",
                                                           traceback=["AssertionError: made up"]))
    nbformat.write(nb, run.runs / student / "executed.ipynb")


def _plain_nbgrader(run):
    """The run's sanitizer and recorder as plain nbgrader (the grader's configuration before bookkeeping)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    sanitize = copy.deepcopy(run.cfg)
    sanitize.Autograde.autograde_preprocessors = []
    record = copy.deepcopy(run.cfg)
    record.UseExecuted.runs_dir = str(run.runs)
    record.Autograde.autograde_preprocessors = [
        grader.UseExecuted, "nbgrader.preprocessors.IgnorePattern", "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput", "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties", "nbgrader.preprocessors.CheckCellMetadata"]
    run.sanitizer = NbGraderAPI(coursedir=CourseDirectory(config=sanitize), config=sanitize)
    run.recorder = NbGraderAPI(coursedir=CourseDirectory(config=record), config=record)


def _grade(workdir, submissions, plain):
    """Prepare and record ``submissions`` with made-up outputs; the grades, the files and the gradebook."""
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    with nullcontext() if plain else bookkeeping.fast_gradebooks():
        run = grader._open_run(A, grader._throwaway_course(A, workdir, None))
        if plain:
            _plain_nbgrader(run)
        grades = {}
        for student, nb in submissions.items():
            grade, _ = grader._prepare(run, student, nb)
            if grade is None:
                _made_up_outputs(run, student)
                grade = grader._record(run, student, Execution("ok"), [])
            grades[student] = grade
    files = {p.relative_to(workdir).as_posix(): p.read_bytes()
             for folder in ("autograded", "runs") for p in sorted((workdir / folder).rglob("*.ipynb"))
             if p.name != "input.ipynb"}                     # input.ipynb holds the run's random nonce
    with Gradebook(run.cfg.CourseDirectory.db_url) as gb:
        book = {student: [(g.name, g.auto_score, g.needs_manual_grade) for nb in gb.find_submission(A, student).notebooks
                          for g in nb.grades]
                + [(c.name, c.auto_comment) for nb in gb.find_submission(A, student).notebooks for c in nb.comments]
                for student in grades if grades[student].score is not None}
        book["alembic_version"] = gb.db.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    return grades, files, book


def _without_ids(content: bytes) -> dict:
    nb = json.loads(content)
    for cell in nb["cells"]:
        cell.pop("id")
    return nb


def test_prepared_and_recorded_as_plain_nbgrader(tmp_path):
    deleted = filled_release(A)
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_best_split"
                     or c.metadata.get("nbgrader", {}).get("solution")]
    corrupt = filled_release(A)
    next(c for c in corrupt.cells if c.metadata.get("nbgrader", {}).get("grade")).metadata.nbgrader["points"] = "all"
    submissions = {"solution": filled_release(A), "blank": nbformat.read(release_notebook(A), as_version=4),
                   "deleted_test": deleted, "corrupt_metadata": corrupt}
    assert len(deleted.cells) < len(submissions["solution"].cells), "no test cell was deleted"

    ours = _grade(tmp_path / "ours", submissions, plain=False)
    theirs = _grade(tmp_path / "nbgrader", submissions, plain=True)

    for student in submissions:
        assert ours[0][student] == theirs[0][student], student
    assert 0 < ours[0]["solution"].score < ours[0]["solution"].max_score      # made up: every other test fails
    assert ours[0]["corrupt_metadata"].score is None and "could not prepare" in ours[0]["corrupt_metadata"].error
    assert ours[1].keys() == theirs[1].keys() and len(ours[1]) == 3 * 3
    for name, content in ours[1].items():
        if "deleted_test" in name:          # nbgrader gives a test cell it adds back a random id, each time it sanitizes
            assert _without_ids(content) == _without_ids(theirs[1][name]), name
        else:
            assert content == theirs[1][name], name
    assert ours[2] == theirs[2] and len(ours[2]) == 3 + 1       # the revision nbgrader's `alembic heads` gives
