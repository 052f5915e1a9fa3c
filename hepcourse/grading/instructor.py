"""The instructor's side: a class's submissions collected, autograded, returned and exported.

The repository is the nbgrader course (see :func:`~hepcourse.grading.course.instructor_course`);
everything a term produces lives in the grading folder, ``grading/`` or ``$HEPCOURSE_GRADING_DIR``
(:func:`~hepcourse.grading.course.grading_dir`), where ``make clean`` never reaches:

* :func:`collect` files the notebooks of a folder or zip: ``<student>.ipynb`` files, or a folder per
  student holding the notebook under any name (a course system's export); each gets nbgrader's
  ``timestamp.txt``; a resubmission replaces an older one only with ``update`` (newest wins, the
  older one is kept under ``history/``); ``due`` sets the assignment's due date in the gradebook;
* :func:`grade_class` autogrades them in the sandbox (all, or some ``students``);
* :func:`feedback` writes HTML feedback that shows no hidden test and renders math offline;
* :func:`export` writes the grades CSV from the gradebook (so manual grades given in the
  formgrader are in it), with the part titles, lateness and, given a roster, a row for every
  student of the course.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .course import check_grading_dir, find_assignment, instructor_course, part_titles, plain
from .errors import GradingError, SubmissionConflict
from .grader import PartGrade, SubmissionGrade, autograde
from .sandbox import Limits

HIDDEN = ("__MACOSX", ".ipynb_checkpoints")


# ----------------------------------------------------------------------------- collect

@dataclass
class Found:
    """One notebook found in a folder or zip: where it was, its bytes and when it was submitted."""

    path: Path                  # relative to the folder or zip
    data: bytes
    submitted_at: datetime      # aware, UTC
    student: str = ""


@dataclass
class Collected:
    """What :func:`collect` did."""

    assignment: str
    filed: list[str] = field(default_factory=list)          # students whose submission is now this one
    kept_older: list[str] = field(default_factory=list)     # history files of replaced or older versions
    due: datetime | None = None


def student_id(name: str) -> str:
    """A student id from a file or folder name: letters, digits, ``_.-``; spaces and the rest become ``_``."""
    sid = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    if not sid:
        raise GradingError(f"cannot make a student id from {name!r}")
    return sid


def parse_time(text: str) -> datetime:
    """An aware UTC datetime from ISO text ("2026-03-02 23:59", "2026-03-02T23:59+01:00") or
    nbgrader's ``timestamp.txt`` format; a time without a zone is this machine's local time."""
    from nbgrader.utils import parse_utc

    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            return parse_utc(text).replace(tzinfo=timezone.utc)
        except (ValueError, OverflowError) as err:
            raise GradingError(f"cannot read the time {text!r}: use e.g. 2026-03-02T23:59+01:00") from err
    return (value if value.tzinfo else value.astimezone()).astimezone(timezone.utc)


def _from_zip(source: Path) -> list[Found]:
    found = []
    with zipfile.ZipFile(source) as zf:
        names = set(zf.namelist())
        for info in zf.infolist():
            path = Path(info.filename)
            if info.is_dir() or path.suffix != ".ipynb" or any(p in HIDDEN or p.startswith(".") for p in path.parts):
                continue
            stamp = (path.parent / "timestamp.txt").as_posix()
            when = (parse_time(zf.read(stamp).decode()) if stamp in names
                    else datetime(*info.date_time).astimezone().astimezone(timezone.utc))
            found.append(Found(path, zf.read(info), when))
    return found


def _from_folder(source: Path) -> list[Found]:
    found = []
    for path in sorted(source.rglob("*.ipynb")):
        rel = path.relative_to(source)
        if any(p in HIDDEN or p.startswith(".") for p in rel.parts):
            continue
        stamp = path.parent / "timestamp.txt"
        when = (parse_time(stamp.read_text()) if stamp.exists()
                else datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
        found.append(Found(rel, path.read_bytes(), when))
    return found


def _name_students(found: list[Found], assignment: str, names_from: str) -> None:
    """Give each notebook its student: the file name, or the folder's for a folder-per-student
    export (``auto``: when the file is named after the assignment, or the same file name is in
    several folders)."""
    chapter = assignment.split("_")[0]
    folders_of: dict[str, set] = {}
    for f in found:
        folders_of.setdefault(f.path.name, set()).add(f.path.parent)
    for f in found:
        in_folder = f.path.parent != Path(".")
        by_folder = names_from == "folder" or (names_from == "auto" and in_folder and (
            f.path.stem.startswith(chapter) or len(folders_of[f.path.name]) > 1))
        if by_folder and not in_folder:
            raise GradingError(f"{f.path} is not in a folder, so it cannot be named after one")
        f.student = student_id(f.path.parent.name if by_folder else f.path.stem)


def _filed(submitted: Path, student: str, assignment: str) -> Path:
    return submitted / student / assignment / f"{assignment}.ipynb"


def _filed_time(notebook: Path) -> datetime | None:
    stamp = notebook.parent / "timestamp.txt"
    return parse_time(stamp.read_text()) if stamp.exists() else None


def _keep(history: Path, student: str, data: bytes, when: datetime | None) -> Path:
    """Keep an older version of a submission under ``history/<assignment>/<student>/`` (once)."""
    same = [p for p in sorted((history / student).glob("*.ipynb")) if p.read_bytes() == data]
    if same:
        return same[0]
    tag = when.strftime("%Y%m%dT%H%M%SZ") if when else "unknown-time"
    path = history / student / f"{tag}.ipynb"
    n = 1
    while path.exists():
        n += 1
        path = history / student / f"{tag}-{n}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def collect(assignment: str, source: Path, update: bool = False, names_from: str = "auto",
            due: str | datetime | None = None) -> Collected:
    """File the notebooks of ``source`` (a folder or a .zip) for grading.

    Each goes to ``<grading dir>/submitted/<student>/<assignment>/<assignment>.ipynb`` with a
    ``timestamp.txt`` (from a ``timestamp.txt`` beside it, as nbgrader's exchange writes, else the
    file's modification time), where nbgrader and :func:`grade_class` find it. A student already
    filed is an error unless ``update``; then the newest version wins and the other is kept in
    ``history/``. Two versions of one student in ``source`` are resolved the same way.
    ``names_from``: ``auto``, ``file`` or ``folder`` (see :func:`_name_students`). ``due``: the
    assignment's due date, recorded in the gradebook (a time without zone is local time).
    """
    assignment = find_assignment(assignment)
    work = check_grading_dir()
    submitted, history = work / "submitted", work / "history" / assignment
    source = Path(source)
    if source.is_file() and zipfile.is_zipfile(source):
        found = _from_zip(source)
    elif source.is_dir():
        found = _from_folder(source)
    else:
        raise FileNotFoundError(f"{source} is neither a folder nor a zip file of notebooks")
    if not found:
        raise GradingError(f"no notebooks (.ipynb) in {source}")
    _name_students(found, assignment, names_from)
    newest: dict[str, Found] = {}
    result = Collected(assignment)
    for f in sorted(found, key=lambda f: f.submitted_at):          # a later one replaces an earlier one
        if f.student in newest:
            result.kept_older.append(str(_keep(history, f.student, newest[f.student].data, newest[f.student].submitted_at)))
        newest[f.student] = f
    already = sorted(s for s in newest if _filed(submitted, s, assignment).exists())
    if already and not update:
        raise SubmissionConflict(f"{len(already)} students already have a submission of {assignment} filed "
                                 f"({', '.join(already[:10])}{' ...' if len(already) > 10 else ''}); collect "
                                 "with --update to replace older ones by newer ones (older versions are kept)")
    for student, f in sorted(newest.items()):
        result.filed += _file_one(submitted, history, assignment, f, result)
    if due is not None:
        result.due = set_due_date(assignment, due)
    return result


def _file_one(submitted: Path, history: Path, assignment: str, f: Found, result: Collected) -> list[str]:
    """File ``f``; a filed version of the same student that is newer wins instead. Returns the
    student if ``f`` is now the filed submission."""
    target = _filed(submitted, f.student, assignment)
    if target.exists() and target.read_bytes() == f.data:
        return []                                                     # collected before: nothing new
    if target.exists():
        old_time = _filed_time(target)
        if old_time is not None and old_time > f.submitted_at:
            result.kept_older.append(str(_keep(history, f.student, f.data, f.submitted_at)))
            return []
        result.kept_older.append(str(_keep(history, f.student, target.read_bytes(), old_time)))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(f.data)
    (target.parent / "timestamp.txt").write_text(f.submitted_at.isoformat())
    return [f.student]


def set_due_date(assignment: str, due: str | datetime) -> datetime:
    """Record the due date of ``assignment`` in the course gradebook (what the formgrader shows)."""
    from nbgrader.api import Gradebook

    due = parse_time(due) if isinstance(due, str) else due.astimezone(timezone.utc)
    cfg = instructor_course()
    with Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id) as gb:
        gb.update_or_create_assignment(assignment, duedate=due.replace(tzinfo=None))
    return due


# ----------------------------------------------------------------------------- autograde

def _outcomes_path(assignment: str) -> Path:
    return check_grading_dir() / "outcomes" / f"{assignment}.json"


def grade_class(assignment: str, jobs: int = 2, source: Path | None = None, sandbox: bool | None = True,
                on_graded: Callable[[SubmissionGrade], None] | None = None, students: list[str] | None = None,
                limits: Limits = Limits(), warm: bool | None = None, scheduler=None) -> dict[str, SubmissionGrade]:
    """Autograde the collected submissions of ``assignment`` (all, or only ``students``) into the
    course gradebook; the reasons are kept in ``outcomes/<assignment>.json`` for :func:`export`.
    ``warm`` and ``scheduler`` as in :func:`~hepcourse.grading.grader.autograde`."""
    assignment = find_assignment(assignment)
    check_grading_dir()
    cfg = instructor_course(source)
    submitted = Path(cfg.CourseDirectory.root) / cfg.CourseDirectory.submitted_directory
    notebooks = {p.parts[-3]: p for p in sorted(submitted.glob(f"*/{assignment}/{assignment}.ipynb"))}
    if not notebooks:
        raise GradingError(f"no submissions of {assignment} in {submitted}: run `hepcourse grade collect` first")
    if students:
        missing = sorted(set(students) - set(notebooks))
        if missing:
            raise GradingError(f"no submission of {assignment} filed for {', '.join(missing)}")
        notebooks = {s: p for s, p in notebooks.items() if s in set(students)}
    grades = autograde(assignment, notebooks, jobs=jobs, sandbox=sandbox, course=cfg, on_graded=on_graded,
                       limits=limits, warm=warm, scheduler=scheduler)
    path = _outcomes_path(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept.update({s: asdict(g) for s, g in grades.items()})
    path.write_text(json.dumps(kept, indent=1))
    return grades


def load_outcomes(assignment: str) -> dict[str, SubmissionGrade]:
    """The grades of the :func:`grade_class` runs, with their reasons (the last run of each student)."""
    path = _outcomes_path(find_assignment(assignment))
    if not path.exists():
        return {}
    return {s: SubmissionGrade(**{**g, "parts": {k: PartGrade(**p) for k, p in g["parts"].items()}})
            for s, g in json.loads(path.read_text()).items()}


# ----------------------------------------------------------------------------- export

@dataclass
class Row:
    """One line of the grades CSV."""

    student: str
    grade: SubmissionGrade | None          # None: no submission
    status: str
    submission: str = ""                   # the collected id, when a roster renames it
    submitted_at: str = ""
    hours_late: float | None = None


def _status(grade: SubmissionGrade, hand_graded: bool) -> str:
    if hand_graded:
        return "graded by hand"
    return "needs manual grading" if grade.needs_manual_grade or grade.score is None else "graded"


def gradebook_rows(assignment: str, source: Path | None = None) -> list[Row]:
    """One row per submission: the scores from the gradebook (manual scores given in the
    formgrader win over automatic ones), with the reasons of the last autograde run; submissions
    that could not be recorded (empty or unreadable files) from that run alone."""
    from nbgrader.api import Gradebook

    assignment = find_assignment(assignment)
    cfg = instructor_course(source)
    outcomes = load_outcomes(assignment)
    rows = []
    with Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id) as gb:
        try:
            subs = gb.find_assignment(assignment).submissions
        except Exception:  # noqa: BLE001  (MissingEntry: nothing graded yet)
            subs = []
        for sub in subs:
            seen = outcomes.get(sub.student.id)
            grades = [g for nb in sub.notebooks for g in nb.grades]
            parts = {g.name: PartGrade(g.name, float(g.score), float(g.max_score),
                                       seen.parts[g.name].message if seen and g.name in seen.parts else "",
                                       seen.parts[g.name].title if seen and g.name in seen.parts else "")
                     for g in grades}
            grade = SubmissionGrade(sub.student.id, float(sub.score), float(sub.max_score), parts,
                                    bool(sub.needs_manual_grade) or bool(seen and seen.needs_manual_grade),
                                    seen.error if seen else "")
            late = sub.total_seconds_late / 3600 if sub.timestamp and sub.assignment.duedate else None
            rows.append(Row(sub.student.id, grade, _status(grade, any(g.manual_score is not None for g in grades)),
                            submitted_at=_iso(sub.timestamp), hours_late=late))
    recorded = {r.student for r in rows}
    rows += [Row(s, g, _status(g, False)) for s, g in outcomes.items() if s not in recorded]
    return sorted(rows, key=lambda r: r.student)


def _iso(naive_utc: datetime | None) -> str:
    return naive_utc.replace(tzinfo=timezone.utc).isoformat(timespec="seconds") if naive_utc else ""


def read_roster(path: Path) -> dict[str, str]:
    """A roster CSV → {course-system id: the name its submission is collected under}.

    Columns: ``id`` (required: the id the course system imports) and ``submission`` (optional: the
    file or folder name the student's notebook arrives under; default the id). Names are cleaned
    like collected ones (spaces and punctuation become ``_``).
    """
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "id" not in reader.fieldnames:
            raise GradingError(f"{path}: a roster needs a header with an 'id' column (and optionally 'submission')")
        roster = {r["id"].strip(): student_id(r.get("submission") or r["id"]) for r in reader if r["id"].strip()}
    return roster


def _match(key: str, collected: set[str]) -> str | None:
    """The collected id of a roster entry: the same id, or the only one that starts with it
    followed by ``_`` (a course system's folder name "Ada Lovelace_123456_assignsubmission_file_")."""
    if key in collected:
        return key
    hits = [c for c in collected if c.startswith(key + "_")]
    return hits[0] if len(hits) == 1 else None


def with_roster(rows: list[Row], roster: dict[str, str], max_score: float) -> list[Row]:
    """Rows in roster order under the roster's ids: zero for who did not submit; collected
    submissions that match nobody on the roster come last, marked."""
    by_id = {r.student: r for r in rows}
    out, used = [], set()
    for course_id, key in roster.items():
        hit = _match(key, set(by_id) - used)
        if hit is None:
            out.append(Row(course_id, SubmissionGrade(course_id, 0.0, max_score), "no submission"))
            continue
        used.add(hit)
        r = by_id[hit]
        out.append(Row(course_id, r.grade, r.status, hit, r.submitted_at, r.hours_late))
    out += [Row(r.student, r.grade, "not on the roster", r.student, r.submitted_at, r.hours_late)
            for r in rows if r.student not in used]
    return out


def export_csv(grades: dict[str, SubmissionGrade] | list[Row], path: Path, id_headers: bool = False) -> Path:
    """The grades CSV: one row per student; one column per graded test cell, headed by its
    ``grade_id`` and the part the notebook names ("test_roc_auc: Part D — ROC curve, AUC and
    background rejection"; ``id_headers``: the grade ids alone); then total, maximum, status
    (graded, graded by hand, needs manual grading, no submission, not on the roster), the
    reason, the submission time and the hours late."""
    rows = grades if isinstance(grades, list) else [Row(s, g, _status(g, False)) for s, g in sorted(grades.items())]
    titles: dict[str, str] = {}
    for r in rows:
        for gid, p in (r.grade.parts if r.grade else {}).items():
            titles.setdefault(gid, plain(p.title))
    columns = list(titles)
    with_submission = any(r.submission for r in rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        head = [gid if id_headers or not titles[gid] else f"{gid}: {titles[gid]}" for gid in columns]
        out.writerow(["student", *(["submission"] if with_submission else []), *head,
                      "total", "max", "status", "reason", "submitted_at", "hours_late"])
        for r in rows:
            g = r.grade
            scores = [f"{g.parts[c].score:g}" if g and c in g.parts else "" for c in columns]
            total = "" if g is None or g.score is None else f"{g.score:g}"
            late = "" if r.hours_late is None else f"{r.hours_late:.2f}"
            out.writerow([r.student, *([r.submission] if with_submission else []), *scores, total,
                          f"{g.max_score:g}" if g else "", r.status, " ".join((g.error if g else "").split()),
                          r.submitted_at, late])
    return path


def export(assignment: str, out: Path | None = None, roster: Path | None = None, source: Path | None = None,
           id_headers: bool = False) -> Path:
    """Write the grades CSV of ``assignment`` from the gradebook (default
    ``<grading dir>/<assignment>-grades.csv``); with a ``roster``, one row per student on it."""
    from nbgrader.api import Gradebook

    assignment = find_assignment(assignment)
    rows = gradebook_rows(assignment, source)
    titles = _titles(assignment, source)
    for r in rows:
        for gid, part in (r.grade.parts.items() if r.grade else []):
            part.title = part.title or titles.get(gid, "")
    if roster:
        cfg = instructor_course(source)
        with Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id) as gb:
            max_score = gb.find_assignment(assignment).max_score
        rows = with_roster(rows, read_roster(roster), max_score)
    return export_csv(rows, Path(out) if out else check_grading_dir() / f"{assignment}-grades.csv", id_headers)


def _titles(assignment: str, source: Path | None) -> dict[str, str]:
    import nbformat

    cfg = instructor_course(source)
    nb = Path(cfg.CourseDirectory.root) / cfg.CourseDirectory.source_directory / assignment / f"{assignment}.ipynb"
    return part_titles(nbformat.read(nb, as_version=4)) if nb.exists() else {}


# ----------------------------------------------------------------------------- feedback

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
    check_grading_dir()
    cfg = instructor_course(source)
    cfg.NbGraderAPI.log_level = "ERROR"
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    result = api.generate_feedback(assignment)
    if not result["success"]:
        raise GradingError(f"nbgrader generate_feedback failed: {result.get('error') or result.get('log')}")
    root = (Path(cfg.CourseDirectory.root) / cfg.CourseDirectory.feedback_directory).resolve()
    mathjax = root / "_mathjax"
    if not mathjax.exists():
        shutil.copytree(_mathjax_dir(), mathjax)
    pages = sorted(root.glob(f"*/{assignment}/*.html"))
    for page in pages:
        rel = Path("..") / ".." / "_mathjax"      # from feedback/<student>/<assignment>/ to feedback/_mathjax
        page.write_text(_offline_mathjax(page.read_text(), rel.as_posix()))
    return pages


__all__ = ["collect", "set_due_date", "grade_class", "load_outcomes", "gradebook_rows", "read_roster",
           "with_roster", "export_csv", "export", "feedback", "student_id", "parse_time"]
