"""Where the course's assignments live, and the nbgrader settings every command shares.

The repository is an nbgrader course: ``solutions/<assignment>/<assignment>.ipynb`` is the source
(solution, visible and hidden tests) and ``exercises/<assignment>/<assignment>.ipynb`` the committed
release. The settings below are used by ``nbgrader_config.py`` (for the ``nbgrader`` command and
the JupyterLab formgrader) and by :mod:`hepcourse.grading.grader` (for temporary courses),
so both grade the same way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config

from ..config import BUILD_DIR, ROOT

SOURCE_DIR = ROOT / "solutions"
RELEASE_DIR = ROOT / "exercises"
COURSE_ID = "hepcourse"

CELL_TIMEOUT_S = 30
"""nbgrader's per-cell timeout while autograding. The slowest graded cell of any assignment takes
about 1 s on 2 cores with the reference solution (ch01: test_adaboost_auc, 1.0 s; the setup cell with
its imports 4.3 s; ``tests/README.md`` lists them); 30 s leaves room for a slow laptop and slow but
correct answers, and bounds what an endless loop costs."""


def assignments() -> list[str]:
    """The assignment ids: folders of ``solutions/`` holding ``<id>/<id>.ipynb``."""
    return sorted(p.parent.name for p in SOURCE_DIR.glob("*/*.ipynb") if p.stem == p.parent.name)


def source_notebook(assignment: str) -> Path:
    return SOURCE_DIR / assignment / f"{assignment}.ipynb"


def release_notebook(assignment: str) -> Path:
    return RELEASE_DIR / assignment / f"{assignment}.ipynb"


def grading_dir() -> Path:
    """The instructor's grading folder of the repository course: gradebook, submitted/,
    autograded/, feedback/. ``_build/nbgrader`` (git-ignored) unless ``HEPCOURSE_GRADING_DIR`` is set."""
    return Path(os.environ.get("HEPCOURSE_GRADING_DIR") or BUILD_DIR / "nbgrader").resolve()


def _tools_on_path() -> None:
    """nbgrader runs the ``alembic`` command by name: make this interpreter's scripts findable
    even when the virtual environment is not activated (``.venv/bin/hepcourse ...``, ``make``)."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def course_config(root: Path = ROOT, db_path: Path | None = None, source: str = "solutions",
                  release: str = "exercises", work: str = "") -> Config:
    """The nbgrader configuration of a course rooted at ``root``.

    ``db_path`` is the sqlite gradebook; every nbgrader command of one course must use the same
    one (default ``_build/nbgrader/gradebook.db``). ``work`` is the folder, relative to ``root``,
    that holds submitted/, autograded/ and feedback/ (the repository course uses ``_build/nbgrader``).
    """
    _tools_on_path()
    db_path = Path(db_path) if db_path else grading_dir() / "gradebook.db"
    prefix = f"{work.rstrip('/')}/" if work else ""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = source
    c.CourseDirectory.release_directory = release
    c.CourseDirectory.submitted_directory = prefix + "submitted"
    c.CourseDirectory.autograded_directory = prefix + "autograded"
    c.CourseDirectory.feedback_directory = prefix + "feedback"
    c.CourseDirectory.solution_directory = prefix + "generated_solutions"
    c.OverwriteCells.add_missing_cells = True           # a deleted test cell is restored and still counted
    c.CourseDirectory.db_url = f"sqlite:///{db_path}"
    c.Execute.timeout = CELL_TIMEOUT_S
    c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    c.Autograde.create_student = True
    # Feedback must not show hidden tests (nbgrader shows them by default).
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbgrader.preprocessors.ClearHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    return c


def instructor_course(source: Path | None = None) -> Config:
    """The repository as the nbgrader course an instructor grades a class in.

    Submissions, autograded notebooks, feedback and the gradebook live under ``_build/nbgrader``
    (see :func:`grading_dir`; ``$NBGRADER_DB`` moves the gradebook, as for the ``nbgrader`` command). ``source`` replaces
    ``solutions/`` by a private copy whose hidden tests students have not seen. nbgrader's own
    release copy goes to ``_build/nbgrader/release``, never over the committed ``exercises/``.
    """
    db = os.environ.get("NBGRADER_DB")
    work = grading_dir()
    rel = lambda p: os.path.relpath(p, ROOT)  # noqa: E731
    return course_config(ROOT, Path(db) if db else work / "gradebook.db",
                         source=str(Path(source).resolve()) if source else "solutions",
                         release=rel(work / "release"), work=rel(work))
