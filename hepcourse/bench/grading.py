"""Grading throughput: the course's sandboxed parallel grader against plain sequential nbgrader.

    hepcourse bench grading --assignment ch01 --n 200 --baseline 20 --jobs 2 --variants tests/submissions

Builds a class of ``n`` submissions of an assignment (the reference solution, the blank release
and the wrong-answer variants of ``--variants``, in turn; ``--assignment`` and the name of the variants
file take the id or the chapter, ``ch01``), grades it with :func:`~hepcourse.grading.grader.autograde`
(warm sandboxes; ``--cold`` for a sandbox and kernel per submission), then grades the first ``baseline``
of them with ``nbgrader autograde`` (one after the other, no sandbox) in the same run, and reports wall
and CPU time, the time of the cells themselves in a warm kernel, the grading overhead and the ratio
to nbgrader (see :func:`run`).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import nbformat

from ..grading.course import course_config, find_assignment, release_notebook, source_notebook
from ..grading.errors import UnknownAssignment
from ..grading.grader import autograde
from ..grading.submissions import filled_release, load_variants


def variants_path(variants: Path | str, assignment: str) -> Path:
    """The variants file ``variants`` names for ``assignment``: a folder (``tests/submissions``) holds
    ``<assignment id>.yml``; a file named by the chapter (``tests/submissions/ch01.yml``) is the one
    named by the assignment id, as ``make grade A=ch01`` takes either."""
    path = Path(variants)
    if path.is_dir():
        return path / f"{find_assignment(assignment)}.yml"
    if not path.exists() and path.suffix in (".yml", ".yaml"):
        try:
            named = path.with_name(f"{find_assignment(path.stem)}{path.suffix}")
        except UnknownAssignment:
            named = path
        if named.exists():
            return named
    if not path.exists():
        raise FileNotFoundError(f"no variants file {path}")
    return path


def fake_class(assignment: str, n: int, variants: Path | None = None) -> dict[str, nbformat.NotebookNode]:
    """``n`` submissions cycling through the solution, the blank release and the variants of ``variants``
    (a YAML file of wrong-answer variants, as in the course's ``tests/submissions/``), if given."""
    assignment = find_assignment(assignment)
    kinds = [("solution", filled_release(assignment)), ("blank", nbformat.read(release_notebook(assignment), 4))]
    if variants is not None:
        kinds += [(name, filled_release(assignment, v["replace"])) for name, v in load_variants(Path(variants)).items()]
    return {f"s{i:04d}_{name}": nb for i, (name, nb) in zip(range(n), itertools.cycle(kinds))}


def sequential_nbgrader(assignment: str, submissions: dict, workdir: Path) -> float:
    """Seconds ``nbgrader autograde`` takes for ``submissions``, one after the other, unsandboxed."""
    import shutil

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    shutil.copytree(source_notebook(assignment).parent, workdir / "source" / assignment)
    cfg = course_config(workdir, workdir / "gradebook.db", source="source", release="release")
    cfg.NbGraderAPI.log_level = "ERROR"
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    api.generate_assignment(assignment)
    for student, nb in submissions.items():
        target = workdir / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    start = time.perf_counter()
    for student in submissions:
        api.autograde(assignment, student)
    return time.perf_counter() - start


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (sandboxes, kernels, warm parents)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(assignment: str = "ch01_classification", n: int = 200, baseline: int = 20, jobs: int = 2,
        sandbox: bool | None = None, variants: Path | None = None, cold: bool = False) -> dict:
    """Grade a fake class of ``n`` with the course's grader (warm sandboxes; ``cold``: a sandbox and a
    kernel per submission), then ``baseline`` of them with sequential nbgrader, in the same run.

    Reports wall and CPU time of both. Our CPU time is this process's and its waited children's, plus
    what each sandboxed run reports (bubblewrap's processes are not children this process can
    account for) and the warm parents' own. The cells' own time (wall and CPU) is measured around
    each cell in a warm kernel by the warm sandbox (a cold run adds one warm pass to measure them).
    The grading overhead is total minus cells over cells: in CPU time (what grading costs on top of
    the notebooks, whatever else the machine runs) and in wall time (``jobs`` × wall minus the cells'
    wall time, meaningful on an otherwise idle machine). ``cpu_ratio``: nbgrader's CPU per submission
    over ours; ``speedup``: our submissions per minute over nbgrader's."""
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)
    assignment = find_assignment(assignment)
    if variants is not None:
        variants = variants_path(variants, assignment)
    subs = fake_class(assignment, n, variants)
    with tempfile.TemporaryDirectory(prefix="hepcourse-bench-") as tmp:
        report: dict = {}
        cpu0, start = _cpu(), time.perf_counter()
        grades = autograde(assignment, subs, workdir=Path(tmp) / "ours", jobs=jobs, sandbox=sandbox, warm=not cold,
                           report=report)
        ours = time.perf_counter() - start
        ours_cpu = _cpu() - cpu0 + sum(g.cpu_seconds for g in grades.values()) + report.get("warm_cpu_s", 0.0)
        cells = grades
        if cold or not any(g.cells_cpu_seconds for g in grades.values()):
            cells = autograde(assignment, subs, workdir=Path(tmp) / "cells", jobs=jobs, sandbox=sandbox, warm=True)
        base_subs = dict(itertools.islice(subs.items(), baseline))
        cpu0 = _cpu()
        theirs = sequential_nbgrader(assignment, base_subs, Path(tmp) / "nbgrader") if baseline else float("nan")
        theirs_cpu = _cpu() - cpu0
    graded = sum(g.score is not None for g in grades.values())
    cells_s = sum(g.cells_seconds for g in cells.values())
    cells_cpu = sum(g.cells_cpu_seconds for g in cells.values())
    pct = lambda total, part: round(100 * (total - part) / part, 1) if part else None  # noqa: E731
    return {"assignment": assignment, "submissions": n, "jobs": jobs, "graded": graded,
            "runner": "cold" if cold else "warm", "warm_unavailable": report.get("warm_unavailable", []),
            "ours_s": round(ours, 1), "ours_cpu_s": round(ours_cpu, 1), "ours_per_min": round(60 * n / ours, 1),
            "sandboxed_cpu_s": round(sum(g.cpu_seconds for g in grades.values()), 1),
            "warm_parents_cpu_s": round(report.get("warm_cpu_s", 0.0), 1),
            "cells_s": round(cells_s, 1), "cells_cpu_s": round(cells_cpu, 1),
            "overhead_cpu_pct": pct(ours_cpu, cells_cpu), "overhead_wall_pct": pct(jobs * ours, cells_s),
            "baseline_submissions": baseline, "nbgrader_s": round(theirs, 1), "nbgrader_cpu_s": round(theirs_cpu, 1),
            "nbgrader_per_min": round(60 * baseline / theirs, 1) if baseline else None,
            "speedup": round((n / ours) / (baseline / theirs), 2) if baseline else None,
            "cpu_ratio": round((theirs_cpu / baseline) / (ours_cpu / n), 2) if baseline else None}
