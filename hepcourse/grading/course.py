"""Where the course's assignments live, and the nbgrader settings every command shares.

The repository is an nbgrader course: ``solutions/<assignment>/<assignment>.ipynb`` is the source
(solution, visible and hidden tests) and ``exercises/<assignment>/<assignment>.ipynb`` the committed
release. The settings below are used by ``nbgrader_config.py`` (for the ``nbgrader`` command and
the JupyterLab formgrader) and by :mod:`hepcourse.grading.grader` (for temporary courses),
so both grade the same way.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from traitlets.config import Config

from ..config import BUILD_DIR, ROOT
from .errors import GradingError, UnknownAssignment
from .sandbox import Limits

SOURCE_DIR = ROOT / "solutions"
RELEASE_DIR = ROOT / "exercises"
COURSE_ID = os.environ.get("HEPCOURSE_COURSE_ID", "hepcourse")
"""nbgrader's course id; on a hub, the same for the instructor's course and the students (book/hub.md)."""

CELL_TIMEOUT_S = Limits.cell_s
"""nbgrader's per-cell timeout (``Execute.timeout``): the same as the sandbox's, from
:class:`~hepcourse.grading.sandbox.Limits`, the one place where grading's limits are set."""

GRADING_DIR_VARIABLE = "HEPCOURSE_GRADING_DIR"


def assignments() -> list[str]:
    """The assignment ids: folders of ``solutions/`` holding ``<id>/<id>.ipynb`` (of ``exercises/``
    where there is no ``solutions/``, as in a class's image without the hidden tests)."""
    found = sorted(p.parent.name for p in SOURCE_DIR.glob("*/*.ipynb") if p.stem == p.parent.name)
    return found or sorted(p.parent.name for p in RELEASE_DIR.glob("*/*.ipynb") if p.stem == p.parent.name)


def source_notebook(assignment: str) -> Path:
    return SOURCE_DIR / assignment / f"{assignment}.ipynb"


def release_notebook(assignment: str) -> Path:
    return RELEASE_DIR / assignment / f"{assignment}.ipynb"


def grading_dir() -> Path:
    """The instructor's grading folder: the gradebook, ``submitted/``, ``autograded/``,
    ``feedback/``, ``outcomes/`` and ``history/`` (older versions of resubmitted notebooks).

    ``$HEPCOURSE_GRADING_DIR`` when set, else ``grading/`` at the course root (git-ignored). It is
    never under ``_build/``, so ``make clean`` cannot delete a term's grades.
    """
    return Path(os.environ.get(GRADING_DIR_VARIABLE) or ROOT / "grading").resolve()


LEGACY_GRADING_DIR = BUILD_DIR / "nbgrader"
"""Where version 0.3.0 and earlier kept the grading data (inside ``_build/``, which ``make clean`` deletes)."""


def check_grading_dir() -> Path:
    """:func:`grading_dir`, after making sure that no earlier term's data are left behind in
    ``_build/nbgrader`` (where versions up to 0.3.0 kept them): grading into a new, empty folder
    while the gradebook of a running class sits in the old one would split the term in two."""
    work = grading_dir()
    legacy = LEGACY_GRADING_DIR.resolve()
    if legacy != work and (legacy / "gradebook.db").exists() and not (work / "gradebook.db").exists():
        raise GradingError(
            f"a gradebook from an earlier version is in {legacy}, and {work} has none. Move it "
            f"(mv {legacy} {work}), or keep grading there with {GRADING_DIR_VARIABLE}={legacy}; "
            "see the CHANGELOG's upgrade notes")
    return work


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
    one (default ``grading/gradebook.db``, see :func:`grading_dir`). ``work`` is the folder, relative
    to ``root``, that holds submitted/, autograded/ and feedback/ (the repository course: ``grading``).
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


def instructor_course(source: Path | None = None, release: str | None = None) -> Config:
    """The repository as the nbgrader course an instructor grades a class in.

    Submissions, autograded notebooks, feedback and the gradebook live in :func:`grading_dir`
    (``$NBGRADER_DB`` moves the gradebook alone, as for the ``nbgrader`` command). ``source``
    replaces ``solutions/`` by a private copy whose hidden tests students have not seen.
    ``release``: nbgrader's release folder relative to the root; by default a copy under the
    grading folder, so that no command here overwrites the committed ``exercises/``
    (``nbgrader_config.py`` passes ``exercises`` so that the exchange hands out the committed release).
    """
    db = os.environ.get("NBGRADER_DB")
    work = grading_dir()
    rel = lambda p: os.path.relpath(p, ROOT)  # noqa: E731
    return course_config(ROOT, Path(db) if db else work / "gradebook.db",
                         source=str(Path(source).resolve()) if source else "solutions",
                         release=release or rel(work / "release"), work=rel(work))


def find_assignment(name: str) -> str:
    """The assignment id named by ``name``: an id, a chapter prefix (``ch01``) or a notebook path
    (``workspace/ch01_classification-old.ipynb``)."""
    stem = Path(name).stem
    ids = assignments()
    if stem in ids:
        return stem
    match = [a for a in ids if a.startswith(stem.split("_")[0] + "_")] if re.match(r"ch\d\d", stem) else []
    if len(match) == 1:
        return match[0]
    raise UnknownAssignment(f"no assignment matches {name!r}; the assignments are: {', '.join(ids)}")


PART_HEADING = re.compile(r"^#{1,4}\s*(Part\s+\S+\s.*?)\s*(?:\(\s*[\d.]+\s+points?\s*\))?\s*$", re.MULTILINE)


def part_titles(nb) -> dict[str, str]:
    """grade_id of each test cell → the part it belongs to, as the notebook names it: the last
    "Part …" heading above the cell, without its points ("Part A — the exact likelihood ratio")."""
    titles, current = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = PART_HEADING.findall(cell.source)
            current = found[-1].strip() if found else current
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and meta.get("grade_id"):
            titles[meta["grade_id"]] = current
    return titles


_TEX = {r"\Delta": "Δ", r"\eta": "η", r"\phi": "φ", r"\varphi": "φ", r"\alpha": "α", r"\beta": "β",
        r"\sigma": "σ", r"\mu": "μ", r"\tau": "τ", r"\theta": "θ", r"\lambda": "λ", r"\chi": "χ", r"\chi^2": "χ²"}


def plain(title: str) -> str:
    """A part title for a terminal or a CSV header: ``$\\Delta R$`` becomes ``ΔR``."""
    for tex, char in sorted(_TEX.items(), key=lambda kv: -len(kv[0])):
        title = title.replace(tex + " ", char).replace(tex, char)
    return title.replace("$", "")
