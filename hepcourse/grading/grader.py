"""Autograde submissions of one assignment: the single entry point the course's tests use.

:func:`autograde` builds a throwaway nbgrader course, generates the assignment from
``solutions/`` (which records the test cells, hidden tests included, in a fresh gradebook),
autogrades every submission with nbgrader and reads the scores back from the gradebook.

Nothing here is sandboxed: submissions run with your rights. Grade only notebooks you trust.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import nbformat

from .course import course_config, source_notebook


@dataclass
class PartGrade:
    """One graded test cell."""

    grade_id: str
    score: float
    max_score: float
    message: str = ""          # the error the test raised, "" when it passed

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


@dataclass
class SubmissionGrade:
    """The grade of one student's submission."""

    student: str
    score: float | None
    max_score: float
    parts: dict[str, PartGrade] = field(default_factory=dict)
    needs_manual_grade: bool = False
    error: str = ""            # why grading failed, when it did


def _error_message(cell) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return ""


def autograde(assignment: str, submissions: Mapping[str, Path | nbformat.NotebookNode],
              workdir: Path | None = None) -> dict[str, SubmissionGrade]:
    """Grade ``submissions`` (student id → notebook file or notebook) of ``assignment``.

    ``workdir`` keeps the temporary course (gradebook, autograded notebooks) for inspection;
    by default it is deleted. Scores come from the nbgrader gradebook, never from log text.
    """
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    tmp_owner = None
    if workdir is None:
        tmp_owner = tempfile.TemporaryDirectory(prefix="hepcourse-grade-")
        workdir = Path(tmp_owner.name)
    workdir = Path(workdir)
    try:
        shutil.copytree(source_notebook(assignment).parent, workdir / "source" / assignment, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        db = workdir / "gradebook.db"
        cfg = course_config(workdir, db, source="source", release="release")
        cfg.NbGraderAPI.log_level = "ERROR"
        api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
        result = api.generate_assignment(assignment)
        if not result["success"]:
            raise RuntimeError(f"generating {assignment} failed:\n{result.get('error') or result.get('log')}")

        run_errors = {}
        for student, notebook in submissions.items():
            target = workdir / "submitted" / student / assignment / f"{assignment}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(notebook, nbformat.NotebookNode):
                nbformat.write(notebook, target)
            else:
                shutil.copyfile(notebook, target)
            result = api.autograde(assignment, student)
            if not result["success"]:
                run_errors[student] = (result.get("error") or result.get("log") or "autograde failed").strip()

        grades = {}
        with Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id) as gb:
            max_score = gb.find_assignment(assignment).max_score
            for student in submissions:
                try:
                    sub = gb.find_submission(assignment, student)
                except MissingEntry:
                    grades[student] = SubmissionGrade(student, None, max_score, needs_manual_grade=True,
                                                      error=run_errors.get(student, "no submission recorded"))
                    continue
                graded = workdir / "autograded" / student / assignment / f"{assignment}.ipynb"
                cells = {}
                if graded.exists():
                    nb = nbformat.read(graded, as_version=4)
                    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
                parts = {}
                for nb_sub in sub.notebooks:
                    for g in nb_sub.grades:
                        parts[g.name] = PartGrade(g.name, float(g.score), float(g.max_score),
                                                  _error_message(cells.get(g.name, {})))
                grades[student] = SubmissionGrade(student, float(sub.score), float(sub.max_score), parts,
                                                  bool(sub.needs_manual_grade), run_errors.get(student, ""))
        return grades
    finally:
        if tmp_owner is not None:
            tmp_owner.cleanup()
