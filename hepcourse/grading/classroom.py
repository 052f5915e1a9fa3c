"""The learner's side of the assignments: a copy to work on, and a check with the hidden tests.

:func:`start` copies an exercise into the git-ignored ``workspace/``; :func:`check` grades a copy
of the learner's notebook under the same conditions as a class's grading (quick mode, one thread,
the CPU, the same time and memory limits; see :func:`~hepcourse.grading.sandbox.grading_environment`)
and :func:`report` prints it part by part, as the notebook names the parts. The instructor's side
(collect, autograde a class, feedback, export) is :mod:`hepcourse.grading.instructor`.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

from ..config import ROOT
from .course import RELEASE_DIR, find_assignment, plain, release_notebook, source_notebook
from .grader import PartGrade, SubmissionGrade, autograde

WORKSPACE = Path(os.path.expanduser(os.environ.get("HEPCOURSE_WORKSPACE") or ROOT / "workspace"))
"""Where :func:`start` puts learners' copies: ``workspace/`` (git-ignored), or ``$HEPCOURSE_WORKSPACE``
(on a hub, where the course folder is shared and read-only: ``~/workspace``)."""
NO_HIDDEN_TESTS = ("the hidden tests are not on this machine (there is no solutions/ folder, as in a class's "
                   "image): only the visible tests ran")


def start(name: str, force: bool = False, workspace: Path = WORKSPACE) -> Path:
    """Copy the release of an assignment into ``workspace/``; never overwrite work without ``force``."""
    assignment = find_assignment(name)
    target = Path(workspace) / f"{assignment}.ipynb"
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists and may hold your answers; open it, or use --force to start over "
                              "(rename your copy first to keep it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(release_notebook(assignment), target)
    return target


def check(notebook: Path, sandbox: bool | None = None, source: Path | None = None) -> SubmissionGrade:
    """Grade a copy of ``notebook`` with the hidden tests; the file itself is only read.

    ``source``: a folder like ``solutions/`` (the default). Where ``solutions/`` is absent (a
    class's image), the release's visible tests are all that can run, and the grade says so.
    """
    notebook = Path(notebook)
    if not notebook.exists():
        raise FileNotFoundError(f"{notebook} does not exist")
    assignment = find_assignment(notebook.name)
    note = ""
    if source is None and not source_notebook(assignment).exists():
        source, note = RELEASE_DIR, NO_HIDDEN_TESTS
    grade = autograde(assignment, {"you": notebook}, jobs=1, sandbox=sandbox, source=source)["you"]
    if note:
        grade.error = "; ".join(filter(None, [grade.error, note]))
    return grade


def _by_part(grade: SubmissionGrade) -> dict[str, list[PartGrade]]:
    """The graded test cells grouped by the part they belong to, in notebook order."""
    parts: dict[str, list[PartGrade]] = {}
    for cell in grade.parts.values():
        parts.setdefault(plain(cell.title) or cell.grade_id, []).append(cell)
    return parts


def _row(label: str, score: float, max_score: float, width: int, message: str = "") -> str:
    result = "passed" if score >= max_score else "FAILED"
    return f"{label:<{width}} {score:>4g} / {max_score:<3g} {result:<7} {message}".rstrip()


def report(grade: SubmissionGrade, width: int = 100) -> str:
    """A table of the parts as the notebook names them ("Part A — …"), with their points and, for
    a part with several test cells, one line per cell; the total; then the whole message of every
    failed test, hints included."""
    parts = _by_part(grade)
    label_w = max([len(t) for t in parts] + [len("    " + c.grade_id) for cs in parts.values() for c in cs] + [10])
    room = max(width - label_w - 20, 20)
    rows = [f"{'part':<{label_w}} {'points':>9}  result", "-" * width]
    for title, cells in parts.items():
        score, max_score = sum(c.score for c in cells), sum(c.max_score for c in cells)
        if len(cells) == 1 and title != cells[0].grade_id:
            title = f"{title} ({cells[0].grade_id})"
        rows.append(_row(title, score, max_score, label_w, _short(cells[0].message, room) if len(cells) == 1 else ""))
        if len(cells) > 1:
            rows += [_row("    " + c.grade_id, c.score, c.max_score, label_w, _short(c.message, room)) for c in cells]
    rows.append("-" * width)
    total = "not graded" if grade.score is None else f"{grade.score:g} / {grade.max_score:g}"
    rows.append(f"{'total':<{label_w}} {total}")
    failed = [p for p in grade.parts.values() if not p.passed and p.message]
    if failed:
        rows.append("\nWhat the failed tests say:")
    for part in failed:
        rows.append(f"\n{plain(part.title) + ', ' if part.title else ''}{part.grade_id}:")
        for line in part.message.splitlines():
            rows += textwrap.wrap(line, width - 2, initial_indent="  ", subsequent_indent="    ") or [""]
    if grade.error:
        rows.append(f"\nnote: {grade.error}")
    return "\n".join(rows)


def _short(message: str, room: int) -> str:
    msg = " ".join(message.split())
    return msg if len(msg) <= room else msg[: room - 3] + "..."


__all__ = ["start", "check", "report", "find_assignment", "WORKSPACE"]
