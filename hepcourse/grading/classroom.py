"""The two ways people use the assignments: a learner alone, and an instructor with a class.

Learner: :func:`start` copies an exercise into the git-ignored ``workspace/``; :func:`check` grades
a copy of the learner's notebook with the hidden tests and returns a per-part report.

Instructor (the repository is the nbgrader course, see :func:`~hepcourse.grading.course.instructor_course`):
:func:`collect` files submissions (a folder or a zip of notebooks named by student),
:func:`grade_class` autogrades them in the sandbox, :func:`feedback` writes HTML feedback that
shows no hidden test and renders math offline, :func:`export_csv` writes one row per student.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import zipfile
from dataclasses import asdict
from pathlib import Path

from ..config import ROOT
from .course import assignments, grading_dir, instructor_course, release_notebook
from .grader import PartGrade, SubmissionGrade, autograde

WORKSPACE = ROOT / "workspace"


def find_assignment(name: str) -> str:
    """The assignment id named by ``name``: an id, a chapter prefix (``ch01``) or a notebook path."""
    stem = Path(name).stem
    ids = assignments()
    if stem in ids:
        return stem
    match = [a for a in ids if a.startswith(stem.split("_")[0] + "_")] if re.match(r"ch\d\d", stem) else []
    if len(match) == 1:
        return match[0]
    raise SystemExit(f"no assignment matches {name!r}; the assignments are: {', '.join(ids)}")


# ----------------------------------------------------------------------------- learner

def start(name: str, force: bool = False, workspace: Path = WORKSPACE) -> Path:
    """Copy the release of an assignment into ``workspace/``; never overwrite work without ``force``."""
    assignment = find_assignment(name)
    target = Path(workspace) / f"{assignment}.ipynb"
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists and may hold your answers; open it, or use --force to start over")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(release_notebook(assignment), target)
    return target


def check(notebook: Path, sandbox: bool | None = None) -> SubmissionGrade:
    """Grade a copy of ``notebook`` with the hidden tests; the file itself is only read."""
    notebook = Path(notebook)
    if not notebook.exists():
        raise FileNotFoundError(f"{notebook} does not exist")
    assignment = find_assignment(notebook.name)
    return autograde(assignment, {"you": notebook}, jobs=1, sandbox=sandbox)["you"]


def report(grade: SubmissionGrade, width: int = 100) -> str:
    """A per-part table (test, points, passed/failed, the start of the message), the total, and
    then the whole message of every failed part, hints included."""
    import textwrap

    rows = [f"{'part':<24} {'points':>9}  {'result':<7} message", "-" * width]
    for part in grade.parts.values():
        msg = " ".join(part.message.split())
        msg = msg if len(msg) <= width - 45 else msg[: width - 48] + "..."
        rows.append(f"{part.grade_id:<24} {part.score:>4g} / {part.max_score:<3g} {'passed' if part.passed else 'FAILED':<7} {msg}")
    rows.append("-" * width)
    total = "not graded" if grade.score is None else f"{grade.score:g} / {grade.max_score:g}"
    rows.append(f"{'total':<24} {total}")
    failed = [p for p in grade.parts.values() if not p.passed and p.message]
    if failed:
        rows.append("\nWhat the failed tests say:")
    for part in failed:
        rows.append(f"\n{part.grade_id}:")
        for line in part.message.splitlines():
            rows += textwrap.wrap(line, width - 2, initial_indent="  ", subsequent_indent="    ") or [""]
    if grade.error:
        rows.append(f"\nnote: {grade.error}")
    return "\n".join(rows)


# ----------------------------------------------------------------------------- instructor

def _student_id(filename: str) -> str:
    sid = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(filename).stem).strip("._")
    if not sid:
        raise ValueError(f"cannot make a student id from {filename!r}")
    return sid


def collect(assignment: str, source: Path, submitted: Path | None = None) -> list[str]:
    """File the notebooks in ``source`` (a folder or a .zip; one ``<student>.ipynb`` each) for grading.

    They go to ``<grading dir>/submitted/<student>/<assignment>/<assignment>.ipynb``, where
    nbgrader and :func:`grade_class` find them. Returns the student ids.
    """
    assignment = find_assignment(assignment)
    submitted = Path(submitted) if submitted else grading_dir() / "submitted"
    source = Path(source)
    students = []

    def file(student: str, data: bytes) -> None:
        target = submitted / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        students.append(student)

    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                name = Path(info.filename)
                if info.is_dir() or name.suffix != ".ipynb" or "__MACOSX" in name.parts or name.name.startswith("."):
                    continue
                file(_student_id(name.name), zf.read(info))
    elif source.is_dir():
        for path in sorted(source.glob("*.ipynb")):
            file(_student_id(path.name), path.read_bytes())
    else:
        raise FileNotFoundError(f"{source} is neither a folder nor a zip file of notebooks")
    if len(set(students)) != len(students):
        raise ValueError(f"two submissions map to the same student id in {source}")
    return sorted(students)


def _outcomes_path(assignment: str) -> Path:
    return grading_dir() / "outcomes" / f"{assignment}.json"


def grade_class(assignment: str, jobs: int = 2, source: Path | None = None, sandbox: bool | None = True,
                on_graded=None) -> dict[str, SubmissionGrade]:
    """Autograde every collected submission of ``assignment`` into the course gradebook."""
    assignment = find_assignment(assignment)
    cfg = instructor_course(source)
    submitted = Path(cfg.CourseDirectory.root) / cfg.CourseDirectory.submitted_directory
    notebooks = {p.parts[-3]: p for p in sorted(submitted.glob(f"*/{assignment}/{assignment}.ipynb"))}
    if not notebooks:
        raise FileNotFoundError(f"no submissions of {assignment} in {submitted}: run `hepcourse grade collect` first")
    grades = autograde(assignment, notebooks, jobs=jobs, sandbox=sandbox, course=cfg, on_graded=on_graded)
    path = _outcomes_path(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({s: asdict(g) for s, g in grades.items()}, indent=1))
    return grades


def load_outcomes(assignment: str) -> dict[str, SubmissionGrade]:
    """The grades of the last :func:`grade_class` run, with their reasons."""
    raw = json.loads(_outcomes_path(assignment).read_text())
    return {s: SubmissionGrade(**{**g, "parts": {k: PartGrade(**p) for k, p in g["parts"].items()}})
            for s, g in raw.items()}


def export_csv(grades: dict[str, SubmissionGrade], path: Path) -> Path:
    """One row per student, one column per graded part, then total, maximum, status and reason."""
    parts = sorted({gid for g in grades.values() for gid in g.parts},
                   key=lambda gid: next(list(g.parts).index(gid) for g in grades.values() if gid in g.parts))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["student", *parts, "total", "max", "status", "reason"])
        for student in sorted(grades):
            g = grades[student]
            status = "needs manual grading" if g.needs_manual_grade or g.score is None else "graded"
            out.writerow([student, *[f"{g.parts[p].score:g}" if p in g.parts else "" for p in parts],
                          "" if g.score is None else f"{g.score:g}", f"{g.max_score:g}", status, " ".join(g.error.split())])
    return path


MATHJAX_CDN = re.compile(r'<script[^>]+src="https?://[^"]*mathjax[^"]*"[^>]*>\s*</script>', re.IGNORECASE)


def _offline_mathjax(html: str, mathjax_rel: str) -> str:
    """Replace nbconvert's CDN MathJax 2 by the local MathJax 3 of sphinx-mathjax-offline."""
    local = ('<script>window.MathJax = {tex: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], '
             'processEscapes: true}};</script>\n'
             f'<script defer src="{mathjax_rel}/tex-chtml.js"></script>')
    html, n = MATHJAX_CDN.subn(lambda _: local, html, count=1)
    if n == 0:
        html = html.replace("</head>", local + "\n</head>", 1)
    return MATHJAX_CDN.sub("", html)


def _mathjax_dir() -> Path:
    """MathJax 3 as shipped by sphinx-mathjax-offline (the package the website uses)."""
    import sysconfig

    path = Path(sysconfig.get_paths()["purelib"]) / "sphinx-mathjax-offline" / "static" / "mathjax"
    if not (path / "tex-chtml.js").exists():
        raise FileNotFoundError(f"MathJax not found at {path}; is sphinx-mathjax-offline installed?")
    return path


def feedback(assignment: str, source: Path | None = None) -> list[Path]:
    """nbgrader feedback HTML for every graded student, hidden tests cleared, math rendered offline."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    assignment = find_assignment(assignment)
    cfg = instructor_course(source)
    cfg.NbGraderAPI.log_level = "ERROR"
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    result = api.generate_feedback(assignment)
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_feedback failed: {result.get('error') or result.get('log')}")
    root = Path(cfg.CourseDirectory.root) / cfg.CourseDirectory.feedback_directory
    mathjax = root / "_mathjax"
    if not mathjax.exists():
        shutil.copytree(_mathjax_dir(), mathjax)
    pages = sorted(root.glob(f"*/{assignment}/*.html"))
    for page in pages:
        rel = Path("..") / ".." / "_mathjax"      # from feedback/<student>/<assignment>/ to feedback/_mathjax
        page.write_text(_offline_mathjax(page.read_text(), rel.as_posix()))
    return pages


__all__ = ["start", "check", "report", "collect", "grade_class", "load_outcomes", "export_csv", "feedback",
           "find_assignment", "grading_dir", "WORKSPACE"]
