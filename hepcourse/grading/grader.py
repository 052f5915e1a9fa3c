"""Autograde the submissions of one assignment: the single entry point of all grading.

nbgrader does the bookkeeping and the sandbox does the running:

1. **sanitize** (nbgrader, one process): a throwaway course is generated from ``solutions/``, so
   the gradebook holds the master copy of every test cell, hidden tests included; each submission
   is read, its kernel spec reset and its test cells restored from the gradebook (deleted ones are
   added back: ``OverwriteCells.add_missing_cells``);
2. **execute** (parallel workers): each sanitized notebook runs in its own sandbox (see
   :mod:`hepcourse.grading.sandbox`) with limits on time, memory and output. Every test cell
   starts by undoing tampering with the test helpers and ends by printing a per-run nonce; a test
   cell whose nonce is missing did not really run and earns nothing;
3. **record** (nbgrader, the same single process, one writer for sqlite): the executed outputs
   are handed to nbgrader's ``SaveAutoGrades`` and the scores are read back from the gradebook.

Every submission ends with a score and a reason, or "needs manual grading" with a reason; one
broken submission never stops the others.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode
from traitlets.config import Config

from .course import course_config, source_notebook
from .sandbox import Execution, Limits, bwrap_path, run_notebook

PROLOGUE = "__import__('hepcourse.grading.checks').grading.checks._guard(globals())  # added by the grader"
EPILOGUE = "print({marker!r})  # added by the grader"


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
    score: float | None                 # None: not graded (see error)
    max_score: float
    parts: dict[str, PartGrade] = field(default_factory=dict)
    needs_manual_grade: bool = False
    error: str = ""                     # why the submission needs a look, when it does
    seconds: float = 0.0                # time its notebook ran


class UseExecuted(NbGraderPreprocessor):
    """nbgrader preprocessor replacing ``Execute``: copy the outputs computed in the sandbox."""

    runs_dir = Unicode("", help="folder holding <student>/executed.ipynb").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        executed = nbformat.read(Path(self.runs_dir) / student / "executed.ipynb", as_version=4)
        if len(executed.cells) != len(nb.cells):
            raise RuntimeError(f"executed notebook of {student} has {len(executed.cells)} cells, expected {len(nb.cells)}")
        for cell, done in zip(nb.cells, executed.cells):
            if cell.cell_type == "code":
                cell.outputs = done.get("outputs", [])
                cell.execution_count = done.get("execution_count")
        return nb, resources


def _is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _with_markers(nb, nonce: str):
    """Return a copy of ``nb`` whose test cells start with the guard and end by printing the nonce."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if _is_test(cell):
            marker = f"{nonce}:{cell.metadata['nbgrader']['grade_id']}"
            cell.source = f"{PROLOGUE}\n{cell.source}\n{EPILOGUE.format(marker=marker)}"
    return nb


def _error(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _verify(nb, nonce: str, run: Execution) -> tuple[object, list[str]]:
    """Strip the nonces from the outputs; a test cell without its nonce and without an error gets one."""
    problems = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and nonce in out.get("text", ""):
                out["text"] = "\n".join(ln for ln in out["text"].split("\n") if nonce not in ln)
        if not _is_test(cell):
            continue
        gid = cell.metadata["nbgrader"]["grade_id"]
        errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if f"{nonce}:{gid}" not in text and not errored:
            if not cell.get("outputs") and run.status != "ok":
                why = run.reason
            else:
                why = "this test cell did not run to its end (was the kernel or the test tampered with?)"
                problems.append(f"{gid}: {why}")
            cell.outputs = list(cell.get("outputs", [])) + [_error("GradingError", why)]
    return nb, problems


def _error_message(cell) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
            if ename == "NotImplementedError" and not evalue:
                evalue = "not answered yet (the answer cell still raises NotImplementedError)"
            return f"{ename}: {evalue}".strip()
    return ""


def _repair_metadata(path: Path, known_ids: set[str]) -> str:
    """Drop nbgrader metadata that the gradebook cannot match (unknown or repeated grade_ids).

    Such a cell becomes an ordinary cell of the student's; if it was a test cell, the master copy
    is added back by ``OverwriteCells.add_missing_cells``. The file as submitted is kept beside,
    as ``<name>.ipynb.submitted``. Returns a note for the grade's reason, '' if nothing changed.
    """
    nb = nbformat.read(path, as_version=4)
    seen, dropped = set(), []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if "nbgrader" in cell.metadata and (gid not in known_ids or gid in seen):
            dropped.append(str(gid))
            del cell.metadata["nbgrader"]
        elif gid:
            seen.add(gid)
    if not dropped:
        return ""
    shutil.copyfile(path, path.with_name(path.name + ".submitted"))
    nbformat.write(nb, path)
    return f"cells with unknown or repeated grade_id {', '.join(dropped)} were treated as the student's own cells"


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if re.match(r"^\w+(Error|Exception): ", ln.strip())]
    useful = [ln for ln in lines if not ln.startswith("nbgrader.converters.base.NbGraderException")]
    return (useful or lines or [text.strip().splitlines()[-1] if text.strip() else "unknown error"])[-1][:300]


def _readable_notebook(path: Path) -> str:
    """'' if ``path`` is a notebook nbformat can read, else why not."""
    if path.stat().st_size == 0:
        return "the submitted file is empty"
    try:
        nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001  (any parse error is the submission's fault)
        return f"the submitted file is not a valid notebook: {type(err).__name__}: {str(err)[:200]}"
    return ""


def autograde(assignment: str, submissions: Mapping[str, Path | nbformat.NotebookNode],
              workdir: Path | None = None, jobs: int = 2, sandbox: bool | None = None,
              limits: Limits = Limits(), on_graded: Callable[[SubmissionGrade], None] | None = None,
              course: Config | None = None) -> dict[str, SubmissionGrade]:
    """Grade ``submissions`` (student id → notebook file or notebook) of ``assignment``.

    ``jobs`` notebooks run at once. ``sandbox``: True requires bubblewrap, False runs without it
    (only for your own notebooks), None uses it when installed. ``on_graded`` is called as each
    submission is recorded (progress reporting).

    By default a throwaway course is made in ``workdir`` (deleted afterwards when None) from
    ``solutions/``. An instructor passes ``course``, the nbgrader configuration of a real course
    (see :func:`instructor_course`), whose gradebook then receives the grades.
    """
    import warnings

    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from sqlalchemy.exc import SAWarning

    # nbgrader 0.9.6 with SQLAlchemy 2.1 warns on every autograde; the scores are unaffected
    warnings.filterwarnings("ignore", category=SAWarning)
    if sandbox is None:
        sandbox = bwrap_path() is not None
    if sandbox and bwrap_path() is None:
        raise RuntimeError("sandboxed grading needs bubblewrap: apt-get install bubblewrap")
    owner = None
    if course is None:
        if workdir is None:
            owner = tempfile.TemporaryDirectory(prefix="hepcourse-grade-")
            workdir = Path(owner.name)
        workdir = Path(workdir)
        shutil.copytree(source_notebook(assignment).parent, workdir / "source" / assignment, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        cfg = course_config(workdir, workdir / "gradebook.db", source="source", release="release")
    else:
        cfg = copy.deepcopy(course)
    cfg.NbGraderAPI.log_level = "ERROR"
    root = Path(cfg.CourseDirectory.root)
    submitted_dir = root / cfg.CourseDirectory.submitted_directory
    autograded_dir = root / cfg.CourseDirectory.autograded_directory
    runs = submitted_dir.parent / "runs"
    try:
        sanitize_cfg = copy.deepcopy(cfg)
        sanitize_cfg.Autograde.autograde_preprocessors = []
        record_cfg = copy.deepcopy(cfg)
        record_cfg.UseExecuted.runs_dir = str(runs)
        record_cfg.Autograde.autograde_preprocessors = [
            UseExecuted,
            "nbgrader.preprocessors.IgnorePattern",
            "nbconvert.preprocessors.ClearMetadataPreprocessor",
            "nbgrader.preprocessors.LimitOutput",
            "nbgrader.preprocessors.SaveAutoGrades",
            "nbgrader.preprocessors.AssignLatePenalties",
            "nbgrader.preprocessors.CheckCellMetadata",
        ]
        sanitizer = NbGraderAPI(coursedir=CourseDirectory(config=sanitize_cfg), config=sanitize_cfg)
        recorder = NbGraderAPI(coursedir=CourseDirectory(config=record_cfg), config=record_cfg)
        generated = sanitizer.generate_assignment(assignment)
        if not generated["success"]:
            raise RuntimeError(f"generating {assignment} failed:\n{generated.get('error') or generated.get('log')}")
        with Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id) as gb:
            max_score = gb.find_assignment(assignment).max_score
        master = nbformat.read(Path(cfg.CourseDirectory.root) / cfg.CourseDirectory.source_directory
                               / assignment / f"{assignment}.ipynb", as_version=4)
        known_ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in master.cells} - {None}

        problems: dict[str, list[str]] = {}
        notes: dict[str, str] = {}
        runs_info: dict[str, Execution] = {}

        def execute(student: str, nonce: str) -> str:
            folder = runs / student
            run = run_notebook(folder / "input.ipynb", folder / "raw.ipynb", limits, sandbox=sandbox)
            runs_info[student] = run
            if (folder / "raw.ipynb").exists():
                nb = nbformat.read(folder / "raw.ipynb", as_version=4)
            else:  # nothing came back: every test fails with the reason
                nb = nbformat.read(folder / "sanitized.ipynb", as_version=4)
            nb, found = _verify(nb, nonce, run)
            problems[student] = found
            nbformat.write(nb, folder / "executed.ipynb")
            return student

        results: dict[str, SubmissionGrade] = {}
        pending = []
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for student, notebook in submissions.items():
                submitted = submitted_dir / student / assignment / f"{assignment}.ipynb"
                submitted.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(notebook, nbformat.NotebookNode):
                    nbformat.write(notebook, submitted)
                elif not (submitted.exists() and submitted.samefile(notebook)):
                    shutil.copyfile(notebook, submitted)
                unreadable = _readable_notebook(submitted)
                if unreadable:
                    results[student] = SubmissionGrade(student, 0.0, max_score, error=unreadable)
                    continue
                notes[student] = _repair_metadata(submitted, known_ids)
                done = sanitizer.autograde(assignment, student)
                sanitized = autograded_dir / student / assignment / f"{assignment}.ipynb"
                if not done["success"] or not sanitized.exists():
                    why = _last_error_line(done.get("error") or done.get("log") or "")
                    results[student] = SubmissionGrade(student, None, max_score, needs_manual_grade=True,
                                                       error=f"nbgrader could not prepare the submission: {why}")
                    continue
                folder = runs / student
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(sanitized, folder / "sanitized.ipynb")
                nonce = secrets.token_hex(16)
                nbformat.write(_with_markers(nbformat.read(sanitized, as_version=4), nonce), folder / "input.ipynb")
                pending.append(pool.submit(execute, student, nonce))

            for future in pending:
                student = future.result()
                recorded = recorder.autograde(assignment, student)
                results[student] = _read_grade(autograded_dir, assignment, student, max_score, recorded,
                                               runs_info[student], problems[student], Gradebook, MissingEntry,
                                               cfg.CourseDirectory.db_url, notes.get(student, ""))
                if on_graded:
                    on_graded(results[student])
        return {student: results[student] for student in submissions}
    finally:
        if owner is not None:
            owner.cleanup()


def _read_grade(autograded_dir, assignment, student, max_score, recorded, run, problems, Gradebook, MissingEntry,
                db_url, note=""):
    reasons = []
    if run.status != "ok":
        reasons.append(run.reason)
    reasons += problems
    if not recorded["success"]:
        reasons.append("recording the grades failed: " + _last_error_line(recorded.get("error") or recorded.get("log") or ""))
    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return SubmissionGrade(student, None, max_score, needs_manual_grade=True,
                                   error="; ".join(reasons) or "no submission recorded", seconds=run.seconds)
        graded = autograded_dir / student / assignment / f"{assignment}.ipynb"
        cells = {}
        if graded.exists():
            nb = nbformat.read(graded, as_version=4)
            cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
        parts = {g.name: PartGrade(g.name, float(g.score), float(g.max_score), _error_message(cells.get(g.name, {})))
                 for nb_sub in sub.notebooks for g in nb_sub.grades}
        manual = bool(sub.needs_manual_grade) or bool(reasons)
        return SubmissionGrade(student, float(sub.score), float(sub.max_score), parts, manual,
                               "; ".join(reasons + ([note] if note else [])), run.seconds)
