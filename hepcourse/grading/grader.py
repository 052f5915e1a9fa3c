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

Steps 1 and 3 are nbgrader's own code, configured so that it does each piece of work once
(:mod:`hepcourse.grading.bookkeeping`: same results, a third of the CPU time).

Every submission ends with a score and a reason, or "needs manual grading" with a reason; one
broken submission never stops the others. Before anything runs, the sandbox is started once (a
blocked bubblewrap stops the run with what to fix, instead of giving everyone zero) and the hidden
tests, the gradebook and the submissions are checked to be invisible from inside it.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import shutil
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from sqlalchemy.exc import SAWarning
from traitlets import Unicode
from traitlets.config import Config

from .bookkeeping import fast_gradebooks
from .course import course_config, part_titles, source_notebook
from .errors import CellsChanged, GradingError
from .sandbox import Execution, Limits, bwrap_path, check_not_exposed, check_sandbox, run_notebook

PROLOGUE = "__import__('hepcourse.grading.checks').grading.checks._guard(globals())  # added by the grader"
EPILOGUE = "print({marker!r})  # added by the grader"


@dataclass
class PartGrade:
    """One graded test cell."""

    grade_id: str
    score: float
    max_score: float
    message: str = ""          # the error the test raised, "" when it passed
    title: str = ""            # the part as the notebook names it: "Part A — the exact likelihood ratio"

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
    cells_seconds: float = 0.0          # of which its cells (measured by the warm sandbox only)
    cells_cpu_seconds: float = 0.0      # their CPU time
    cpu_seconds: float = 0.0            # CPU time of its whole sandboxed run


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


UNSANDBOXED = ("nbgrader's own autograde (the formgrader's Autograde button, `nbgrader autograde`) would run "
               "this student's code without a sandbox, with your rights, so this course turns it off. Autograde in "
               "the sandbox with: hepcourse grade autograde {assignment} (add --student {student} for one student); "
               "the formgrader then shows the results. For notebooks you trust, HEPCOURSE_ALLOW_UNSANDBOXED=1 "
               "switches nbgrader's autograde back on.")


class RefuseUnsandboxed(NbGraderPreprocessor):
    """Put first among nbgrader's autograde preprocessors by ``nbgrader_config.py``: stops the
    unsandboxed autograde of the formgrader and the ``nbgrader`` command, saying what to run instead."""

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        raise GradingError(UNSANDBOXED.format(assignment=info.get("assignment", "ASSIGNMENT"),
                                              student=info.get("student", "STUDENT")))


def _is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def stderr_as_stdout(nb) -> int:
    """Show what test cells wrote to stderr as ordinary output, in place; returns how many outputs moved.

    nbgrader gives a test cell no points as soon as it has *any* stderr output, so a correct answer that
    triggers a library warning (torch's "non-contiguous input" UserWarning, a NumPy RuntimeWarning, a tqdm
    progress bar) would lose its part. A failed test is an error output, which this leaves alone."""
    moved = 0
    for cell in nb.cells:
        if _is_test(cell):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stderr":
                    out["name"] = "stdout"
                    moved += 1
    return moved


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
    errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    for out in errors:
        ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
        if ename == "KeyboardInterrupt":
            # the runner interrupts a cell at its time limit; the kernel reports that as a bare KeyboardInterrupt
            timeout = next((o.get("evalue", "") for o in errors if o.get("ename") == "CellTimeoutError"), "")
            return ("CellTimeoutError: " + (timeout or f"the cell ran longer than {Limits().cell_s} s and was interrupted")
                    + ": your code is too slow for the inputs of the graded test (the task states their size "
                      "and any time limit)")
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


# ----------------------------------------------------------------------------- one grading run

@dataclass
class _Run:
    """The nbgrader side of one grading run: its configuration, folders and the two nbgrader APIs
    (``sanitizer`` prepares submissions, ``recorder`` writes the executed ones into the gradebook)."""

    assignment: str
    cfg: Config
    sanitizer: object
    recorder: object
    max_score: float
    known_ids: set[str]
    titles: dict[str, str]

    @property
    def root(self) -> Path:
        return Path(self.cfg.CourseDirectory.root)

    @property
    def submitted(self) -> Path:
        return self.root / self.cfg.CourseDirectory.submitted_directory

    @property
    def autograded(self) -> Path:
        return self.root / self.cfg.CourseDirectory.autograded_directory

    @property
    def runs(self) -> Path:
        return self.submitted.parent / "runs"

    @property
    def source(self) -> Path:
        return self.root / self.cfg.CourseDirectory.source_directory / self.assignment / f"{self.assignment}.ipynb"

    @property
    def gradebook(self) -> Path:
        return Path(self.cfg.CourseDirectory.db_url.removeprefix("sqlite:///"))


def _throwaway_course(assignment: str, workdir: Path, source: Path | None) -> Config:
    """A course in ``workdir`` holding only ``assignment``, copied from ``source`` (a folder of
    ``<assignment>/<assignment>.ipynb``; default ``solutions/``), with its own gradebook."""
    folder = (Path(source) / assignment) if source else source_notebook(assignment).parent
    shutil.copytree(folder, workdir / "source" / assignment, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return course_config(workdir, workdir / "gradebook.db", source="source", release="release")


def _recording_config(cfg: Config, runs: Path) -> Config:
    """``cfg`` with nbgrader's ``Execute`` replaced by :class:`UseExecuted` (the sandbox ran the notebooks)."""
    from .bookkeeping import CheckCellMetadataOnce, LoadSanitized, SaveAutoGradesOnce

    record_cfg = copy.deepcopy(cfg)
    record_cfg.UseExecuted.runs_dir = str(runs)
    record_cfg.LoadSanitized.runs_dir = str(runs)
    record_cfg.Autograde.sanitize_preprocessors = [LoadSanitized]      # sanitized once, by the sanitizer
    record_cfg.Autograde.autograde_preprocessors = [
        UseExecuted,
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        SaveAutoGradesOnce,
        "nbgrader.preprocessors.AssignLatePenalties",
        CheckCellMetadataOnce,
    ]
    return record_cfg


def _cells_changed(cfg: Config, assignment: str, source: Path) -> CellsChanged:
    """The error for a source whose nbgrader cells differ from those the gradebook recorded."""
    from nbgrader.api import Gradebook

    with Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id) as gb:
        nb = gb.find_notebook(assignment, assignment)
        recorded = {c.name for c in nb.source_cells} | {c.name for c in nb.grade_cells}
        n = len(nb.submissions)
    now = {c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(source, as_version=4).cells
           if c.metadata.get("nbgrader", {}).get("grade_id")}
    added, removed = sorted(now - recorded), sorted(recorded - now)
    return CellsChanged(
        f"{source} no longer has the cells the gradebook recorded for {assignment} "
        f"(added: {', '.join(added) or 'none'}; removed or renamed: {', '.join(removed) or 'none'}), and "
        f"{n} submissions are recorded: nbgrader cannot change an assignment's cells once it has submissions. "
        "Undo the change and put new checks inside an existing test cell (its hidden-tests block may grow; "
        "points may change), or grade in a new gradebook (HEPCOURSE_GRADING_DIR=<new folder>) after "
        "releasing the changed assignment. See the instructor guide, 'Changing an assignment during a term'.")


def _open_run(assignment: str, cfg: Config) -> _Run:
    """Record ``assignment``'s cells in the gradebook (nbgrader ``generate_assignment``) and
    return the run; a change of cells after submissions exist raises :class:`CellsChanged`."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from .bookkeeping import sanitize_preprocessors

    cfg = copy.deepcopy(cfg)
    cfg.NbGraderAPI.log_level = "ERROR"
    sanitize_cfg = copy.deepcopy(cfg)
    sanitize_cfg.Autograde.autograde_preprocessors = []
    sanitize_cfg.Autograde.sanitize_preprocessors = sanitize_preprocessors()
    run = _Run(assignment, cfg, None, None, 0.0, set(), {})
    record_cfg = _recording_config(cfg, run.runs)
    run.sanitizer = NbGraderAPI(coursedir=CourseDirectory(config=sanitize_cfg), config=sanitize_cfg)
    run.recorder = NbGraderAPI(coursedir=CourseDirectory(config=record_cfg), config=record_cfg)
    if not run.source.exists():
        raise GradingError(f"the source of {assignment} is missing: {run.source}")
    generated = run.sanitizer.generate_assignment(assignment)
    if not generated["success"]:
        log = "\n".join(filter(None, [generated.get("log"), generated.get("error")]))
        if "Cannot add or remove cells" in log or "Cannot modify existing assignment" in log:
            raise _cells_changed(cfg, assignment, run.source)
        raise GradingError(f"nbgrader could not generate {assignment} from {run.source}:\n{log}")
    with Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id) as gb:
        run.max_score = gb.find_assignment(assignment).max_score
    master = nbformat.read(run.source, as_version=4)
    run.known_ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in master.cells} - {None}
    run.titles = part_titles(master)
    return run


def _file(run: _Run, student: str, notebook: Path | nbformat.NotebookNode) -> Path:
    """Put ``notebook`` where nbgrader looks for ``student``'s submission (if it is not there already)."""
    submitted = run.submitted / student / run.assignment / f"{run.assignment}.ipynb"
    submitted.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, nbformat.NotebookNode):
        nbformat.write(notebook, submitted)
    elif not (submitted.exists() and submitted.samefile(notebook)):
        shutil.copyfile(notebook, submitted)
    return submitted


def _prepare(run: _Run, student: str, notebook) -> tuple[SubmissionGrade | None, str]:
    """File and sanitize one submission, and write the notebook the sandbox runs.

    Returns (a grade, '') when the submission cannot be run (it then needs a look), else
    (None, the nonce its test cells print)."""
    submitted = _file(run, student, notebook)
    unreadable = _readable_notebook(submitted)
    if unreadable:
        return SubmissionGrade(student, 0.0, run.max_score, needs_manual_grade=True, error=unreadable), ""
    note = _repair_metadata(submitted, run.known_ids)
    done = run.sanitizer.autograde(run.assignment, student)
    sanitized = run.autograded / student / run.assignment / f"{run.assignment}.ipynb"
    if not done["success"] or not sanitized.exists():
        why = _last_error_line(done.get("error") or done.get("log") or "")
        return SubmissionGrade(student, None, run.max_score, needs_manual_grade=True,
                               error=f"nbgrader could not prepare the submission: {why}"), ""
    folder = run.runs / student
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sanitized, folder / "sanitized.ipynb")
    (folder / "note.txt").write_text(note)
    nonce = secrets.token_hex(16)
    nbformat.write(_with_markers(nbformat.read(sanitized, as_version=4), nonce), folder / "input.ipynb")
    return None, nonce


class WarmSlots:
    """``jobs`` warm sandboxes (:class:`~hepcourse.grading.warm.WarmSandbox`), each started on first use
    by the thread that takes it. A slot whose warm sandbox cannot start or stops runs the cold sandbox
    (a fresh ``bwrap`` and kernel per submission: the same isolation and limits, slower)."""

    def __init__(self, folder: Path, jobs: int, imports: list[str] | None = None):
        import queue

        self.folder, self.free, self.imports, self.cpu_s = Path(folder), queue.Queue(), imports, 0.0
        self.slots = [{"index": k, "sandbox": None, "failed": ""} for k in range(max(1, jobs))]
        for slot in self.slots:
            self.free.put(slot)

    def run(self, src: Path, dst: Path, limits: Limits) -> Execution:
        from .warm import WarmSandbox, WarmUnavailable

        slot = self.free.get()
        try:
            if slot["sandbox"] is None and not slot["failed"]:
                try:
                    slot["sandbox"] = WarmSandbox(self.folder / f"slot{slot['index']}", imports=self.imports)
                except (WarmUnavailable, OSError) as err:
                    slot["failed"] = str(err)
            if slot["sandbox"] is not None:
                try:
                    return slot["sandbox"].run(src, dst, limits)
                except (WarmUnavailable, OSError):
                    slot["sandbox"].close()
                    self.cpu_s += slot["sandbox"].cpu_s
                    slot["sandbox"] = None        # started again for the next submission
            return run_notebook(src, dst, limits, sandbox=True)
        finally:
            self.free.put(slot)

    @property
    def unavailable(self) -> list[str]:
        return [s["failed"] for s in self.slots if s["failed"]]

    def close(self) -> None:
        for slot in self.slots:
            if slot["sandbox"] is not None:
                slot["sandbox"].close()
                self.cpu_s += slot["sandbox"].cpu_s
                slot["sandbox"] = None


def _execute(folder: Path, nonce: str, limits: Limits, sandbox: bool,
             warm: WarmSlots | None = None) -> tuple[Execution, list[str]]:
    """Run ``folder/input.ipynb`` (in the sandbox: a warm one when ``warm`` is given) and write the
    checked outputs to ``executed.ipynb``."""
    if warm is not None:
        run = warm.run(folder / "input.ipynb", folder / "raw.ipynb", limits)
    else:
        run = run_notebook(folder / "input.ipynb", folder / "raw.ipynb", limits, sandbox=sandbox)
    return _checked(folder, nonce, run)


def _checked(folder: Path, nonce: str, run: Execution) -> tuple[Execution, list[str]]:
    """Check the nonces of ``folder/raw.ipynb`` (the run's outputs) and write ``executed.ipynb``."""
    raw = folder / "raw.ipynb"
    # when nothing came back, every test fails with the reason
    nb = nbformat.read(raw if raw.exists() else folder / "sanitized.ipynb", as_version=4)
    nb, problems = _verify(nb, nonce, run)
    stderr_as_stdout(nb)
    nbformat.write(nb, folder / "executed.ipynb")
    return run, problems


def _record(run: _Run, student: str, execution: Execution, problems: list[str]) -> SubmissionGrade:
    """Hand the executed notebook to nbgrader (scores into the gradebook) and read the grade back."""
    from nbgrader.api import Gradebook, MissingEntry

    recorded = run.recorder.autograde(run.assignment, student)
    reasons = ([execution.reason] if execution.status != "ok" else []) + problems
    if not recorded["success"]:
        reasons.append("recording the grades failed: " + _last_error_line(recorded.get("error") or recorded.get("log") or ""))
    note = (run.runs / student / "note.txt").read_text() if (run.runs / student / "note.txt").exists() else ""
    with Gradebook(run.cfg.CourseDirectory.db_url) as gb:
        try:
            sub = gb.find_submission(run.assignment, student)
        except MissingEntry:
            return SubmissionGrade(student, None, run.max_score, needs_manual_grade=True,
                                   error="; ".join(reasons) or "no submission recorded", seconds=execution.seconds)
        graded = run.autograded / student / run.assignment / f"{run.assignment}.ipynb"
        cells = {}
        if graded.exists():
            cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(graded, as_version=4).cells}
        parts = {g.name: PartGrade(g.name, float(g.score), float(g.max_score), _error_message(cells.get(g.name, {})),
                                   run.titles.get(g.name, ""))
                 for nb_sub in sub.notebooks for g in nb_sub.grades}
        manual = bool(sub.needs_manual_grade) or bool(reasons)
        return SubmissionGrade(student, float(sub.score), float(sub.max_score), parts, manual,
                               "; ".join(reasons + ([note] if note else [])), execution.seconds,
                               execution.cells_s, execution.cells_cpu_s, execution.cpu_s)


def _secrets(run: _Run) -> dict[str, Path]:
    return {"the hidden tests": run.source.parent, "the gradebook": run.gradebook, "the submissions": run.submitted}


def autograde(assignment: str, submissions: Mapping[str, Path | nbformat.NotebookNode],
              workdir: Path | None = None, jobs: int = 2, sandbox: bool | None = None,
              limits: Limits = Limits(), on_graded: Callable[[SubmissionGrade], None] | None = None,
              course: Config | None = None, source: Path | None = None,
              warm: bool | None = None, scheduler=None, report: dict | None = None) -> dict[str, SubmissionGrade]:
    """Grade ``submissions`` (student id → notebook file or notebook) of ``assignment``.

    ``jobs`` notebooks run at once. ``sandbox``: True requires a working bubblewrap (checked
    first, :func:`~hepcourse.grading.sandbox.check_sandbox`), False runs without it (only for your
    own notebooks), None uses it when installed. ``on_graded`` is called as each submission is
    recorded (progress reporting). ``warm`` (default: whenever sandboxed): run the submissions in
    warm sandboxes, one per job, that fork an isolated child per submission
    (:mod:`hepcourse.grading.warm`) instead of starting a sandbox and a kernel for each.
    ``scheduler``: the address of a dask.distributed scheduler (or a ``Client``; default
    ``$HEPCOURSE_SCHEDULER``, else local): each submission's sandboxed run is a task on its workers
    (:func:`hepcourse.cluster.execute_notebook`, in the workers' sandboxes), while this process
    prepares and records every submission, the one writer to the gradebook. ``report``, a dict, receives
    ``warm_cpu_s`` (the warm parents' own CPU time: imports, forks) and ``warm_unavailable`` (why a
    slot fell back to the cold sandbox).

    By default a throwaway course is made in ``workdir`` (deleted afterwards when None) from
    ``source`` (a folder like ``solutions/``, the default). An instructor passes ``course``, the
    nbgrader configuration of a real course (see :func:`instructor_course`), whose gradebook then
    receives the grades.
    """
    from ..cluster import scheduler_address

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader 0.9.6 with SQLAlchemy 2.1; scores unaffected
    scheduler = scheduler_address(scheduler)
    if sandbox is None:
        sandbox = scheduler is not None or bwrap_path() is not None
    if sandbox and scheduler is None:
        check_sandbox()            # on a cluster, each worker checks its own sandbox
    with tempfile.TemporaryDirectory(prefix="hepcourse-grade-") as tmp, fast_gradebooks():
        if course is None:
            workdir = Path(workdir or tmp)
            course = _throwaway_course(assignment, workdir, source)
        run = _open_run(assignment, course)
        if sandbox and scheduler is None:
            check_not_exposed(_secrets(run))
        if scheduler is not None:
            return _grade_on_cluster(run, submissions, scheduler, sandbox, limits, on_graded, warm)
        slots = None
        if sandbox and warm is not False:
            from .warm import imports_of

            slots = WarmSlots(run.runs / ".warm", jobs, imports_of(nbformat.read(run.source, as_version=4)))
        try:
            return _grade_all(run, submissions, jobs, sandbox, limits, on_graded, slots)
        finally:
            if slots is not None:
                slots.close()
                if report is not None:
                    report.update(warm_cpu_s=slots.cpu_s, warm_unavailable=slots.unavailable)


def _to_execute(run: _Run, submissions, results: dict, on_graded):
    """Prepare each submission in turn; one that needs no run (no notebook, unreadable, …) is graded here, the
    others are yielded as (student, nonce) to be executed."""
    for student, notebook in submissions.items():
        grade, nonce = _prepare(run, student, notebook)
        if grade is None:
            yield student, nonce
        else:
            _deliver(results, student, grade, on_graded)


def _deliver(results: dict, student: str, grade: SubmissionGrade, on_graded) -> None:
    results[student] = grade
    if on_graded:
        on_graded(grade)


def _grade_all(run: _Run, submissions, jobs, sandbox, limits, on_graded,
               warm: WarmSlots | None = None) -> dict[str, SubmissionGrade]:
    """Prepare each submission in this thread, run ``jobs`` at once, record them one at a time."""
    results: dict[str, SubmissionGrade] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = {student: pool.submit(_execute, run.runs / student, nonce, limits, sandbox, warm)
                   for student, nonce in _to_execute(run, submissions, results, on_graded)}
        for student, future in pending.items():
            execution, problems = future.result()
            _deliver(results, student, _record(run, student, execution, problems), on_graded)
    return {student: results[student] for student in submissions}


def _grade_on_cluster(run: _Run, submissions, scheduler, sandbox, limits, on_graded, warm) -> dict[str, SubmissionGrade]:
    """As :func:`_grade_all`, with each sandboxed run a task on the cluster's workers; this process
    prepares, checks and records every submission (the one writer to the gradebook)."""
    from ..cluster import as_completed, connect, execute_notebook

    client = connect(scheduler)
    results: dict[str, SubmissionGrade] = {}
    futures = {}
    try:
        for student, nonce in _to_execute(run, submissions, results, on_graded):
            text = (run.runs / student / "input.ipynb").read_text()
            futures[client.submit(execute_notebook, text, limits, sandbox, warm, pure=False)] = (student, nonce)
        for future in as_completed(futures):
            student, nonce = futures[future]
            folder = run.runs / student
            try:
                executed, execution = future.result()
            except Exception as err:  # noqa: BLE001  (a lost worker: this submission needs a look, not the class)
                executed, execution = None, Execution("error", f"the cluster could not run the notebook: "
                                                               f"{type(err).__name__}: {err}")
            if executed is not None:
                (folder / "raw.ipynb").write_text(executed)
            execution, problems = _checked(folder, nonce, execution)
            _deliver(results, student, _record(run, student, execution, problems), on_graded)
    finally:
        if client is not scheduler:
            client.close()
    return {student: results[student] for student in submissions}
