"""Build the course website (Jupyter Book 1): the one way ``make book`` and the tests build it.

    hepcourse site                      full mode, with the Solutions part, into _build/html
    hepcourse site --quick --path-output _build/quick
    hepcourse site --no-solutions       a classroom build (make book SOLUTIONS=0) into _build/classroom

The Solutions part holds each assignment's reference solution, made by ``nbgrader
generate_solution`` with the hidden tests removed (``ClearHiddenTests``). Jupyter Book builds only
files inside the book and outside its excluded ``_build/``, so the generated notebooks are written
to the git-ignored ``book/solutions/``; the table of contents with the extra part is generated
into ``_build/toc/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from .config import BUILD_DIR, ROOT

SOLUTIONS_DIR = ROOT / "book" / "solutions"
CLASSROOM_OUTPUT = BUILD_DIR / "classroom"
"""A classroom build's own folder: Sphinx never deletes pages, so a build without solutions into the
folder of a build with them would still publish the solution pages."""


def generate_solutions(out_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    """Write ``<assignment>.ipynb`` solutions (no hidden tests, no outputs) into ``out_dir``."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import GenerateSolution
    from nbgrader.coursedir import CourseDirectory

    from .grading.course import assignments, course_config
    from .grading.submissions import without_markers

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for assignment in assignments():
        target = out_dir / f"{assignment}.ipynb"
        source_hash = _source_hash(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
        if target.exists() and nbformat.read(target, as_version=4).metadata.get(
                "hepcourse", {}).get("source_sha256") == source_hash:
            written.append(target)      # unchanged: keep the file (and its mtime: Sphinx does not re-read it)
            continue
        with tempfile.TemporaryDirectory(prefix="hepcourse-solution-") as tmp:
            tmp = Path(tmp)
            cfg = course_config(ROOT, tmp / "gradebook.db", release=str(tmp / "release"))
            cfg.CourseDirectory.solution_directory = str(tmp / "solution")
            cfg.NbGraderAPI.log_level = "ERROR"
            cfg.GenerateSolution.preprocessors = [
                "nbgrader.preprocessors.IncludeHeaderFooter",
                "nbgrader.preprocessors.LockCells",
                "nbgrader.preprocessors.ClearOutput",
                "nbgrader.preprocessors.ClearMarkScheme",
                "nbgrader.preprocessors.ClearHiddenTests",
            ]
            done = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg).generate_assignment(assignment)
            if not done["success"]:
                raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{done.get('error') or done.get('log')}")
            app = GenerateSolution(coursedir=CourseDirectory(config=cfg), config=cfg)
            app.coursedir.assignment_id = assignment
            app.start()
            nb = nbformat.read(tmp / "solution" / assignment / f"{assignment}.ipynb", as_version=4)
            for cell in nb.cells:
                cell.source = without_markers(cell.source) if cell.cell_type == "code" else cell.source
            first = next(c for c in nb.cells if c.cell_type == "markdown")
            first.source = re.sub(r"^# (Assignment)?", lambda m: "# Solution of assignment" if m.group(1) else "# Solution: ",
                                  first.source, count=1)
            nb.metadata["hepcourse"] = {"source_sha256": source_hash}
            nbformat.write(nb, target)
            written.append(target)
    return written


def _source_hash(path: Path) -> str:
    """sha256 of a solution notebook and of this module (a change in either regenerates the page)."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes() + Path(__file__).read_bytes()).hexdigest()


def toc(solutions: bool, out: Path) -> Path:
    """``_toc.yml``, plus a "Solutions" part listing ``book/solutions/*`` when ``solutions``."""
    spec = yaml.safe_load((ROOT / "_toc.yml").read_text())
    if solutions:
        pages = sorted(SOLUTIONS_DIR.glob("*.ipynb"))
        spec["parts"].insert(len(spec["parts"]) - 1, {
            "caption": "Solutions",
            "chapters": [{"file": "book/solutions_intro",
                          "sections": [{"file": p.relative_to(ROOT).with_suffix("").as_posix()} for p in pages]}],
        })
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def _remove_rendered(build_dir: Path) -> None:
    """Delete the rendered pages, Sphinx's environment and the executed copies of the notebooks
    under ``build_dir``; the execution cache (``.jupyter_cache``) stays, so nothing re-executes."""
    for name in ("html", ".doctrees", "jupyter_execute"):
        shutil.rmtree(build_dir / name, ignore_errors=True)


@dataclass
class Execution:
    """How one notebook of the site was executed before the HTML build."""

    notebook: str                 # path relative to the course root
    status: str                   # "executed", "cached" (outputs reused) or "failed"
    seconds: float = 0.0
    error: str = ""               # the traceback, when it failed


@dataclass
class Build:
    returncode: int               # of `jupyter-book build` (notebook failures are in `failed`)
    html: Path
    log: str
    executions: list[Execution] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Execution]:
        return [e for e in self.executions if e.status == "failed"]


def _toc_files(toc_path: Path) -> list[str]:
    """Every file of a table of contents, as written there (no suffix)."""
    spec = yaml.safe_load(Path(toc_path).read_text())
    files = [spec["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in spec.get("parts", []):
        walk(part.get("chapters"))
    walk(spec.get("chapters"))
    return files


def notebooks_to_execute(toc_path: Path, solutions: bool) -> list[Path]:
    """The notebooks of the site that are executed: lectures, and the solutions when ``solutions``.

    Exercises are rendered, never executed (they are stubs).
    """
    out = []
    for name in _toc_files(toc_path):
        path = ROOT / f"{name}.ipynb"
        if not path.exists() or name.startswith("exercises/"):
            continue
        if name.startswith("book/solutions/") and not solutions:
            continue
        out.append(path)
    return out


# Kernels log "Kernel is running over TCP without encryption" at WARNING on every start; a build
# prints nothing of the kernels but each notebook's progress line.
_KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


def _execute_one(path: str, timeout: int, env: dict) -> tuple[str | None, float, str]:
    """Run one notebook in a fresh kernel (in a worker process): (executed notebook JSON, s, error)."""
    from jupyter_cache.executors.utils import single_nb_execution

    for key, value in env.items():          # None: remove the variable
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
                                 extra_arguments=_KERNEL_ARGS)
    if result.err is not None:      # the failing cell and the kernel's traceback, without colour codes
        return None, result.time, re.sub(r"\x1b\[[0-9;]*m", "", str(result.err))
    return nbformat.writes(result.nb), result.time, ""


def execute_notebooks(paths: list[Path], cache_dir: Path, *, jobs: int = 2, timeout: int = 300,
                      env: dict | None = None, report=None) -> list[Execution]:
    """Execute ``paths`` into the Jupyter cache that the site build reads, ``jobs`` at a time.

    A notebook whose code cells are unchanged since its last successful run is not executed again
    (its cached outputs are used), so a rebuild after editing one page executes only that page.
    ``report`` (e.g. ``print``) gets one line per notebook as it finishes. Executions are spread
    over processes, each notebook in its own fresh kernel; the cache (SQLite) is written only here.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    report = report or (lambda line: None)
    cache = get_cache(str(cache_dir))
    results: dict[Path, Execution] = {}
    todo = []
    for path in paths:
        rel = path.relative_to(ROOT).as_posix()
        try:
            record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
            results[path] = Execution(rel, "cached", float(record.data.get("execution_seconds") or 0.0))
        except KeyError:
            todo.append(path)
    if results:
        report(f"  {len(results)} notebook(s) unchanged since their last run: outputs taken from the cache")
    n = len(todo)
    if n:
        report(f"  executing {n} notebook(s), {min(jobs, n)} at a time:")
    width = len(str(n))
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, n))) as pool:
        futures = {pool.submit(_execute_one, str(p), timeout, dict(env or {})): p for p in todo}
        for i, future in enumerate(as_completed(futures), 1):
            path = futures[future]
            rel = path.relative_to(ROOT).as_posix()
            try:
                executed, seconds, error = future.result()
            except Exception as err:  # noqa: BLE001  (a crashed worker is this notebook's failure)
                executed, seconds, error = None, 0.0, f"{type(err).__name__}: {err}"
            if executed is None:
                results[path] = Execution(rel, "failed", seconds, error)
            else:
                record = cache.add_nb_to_project(str(path))
                cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(executed, as_version=4), record.uri,
                                                          data={"execution_seconds": seconds}),
                                            check_validity=False, overwrite=True)
                results[path] = Execution(rel, "executed", seconds)
            report(f"  [{i:{width}d}/{n}] {seconds:6.1f} s  {'ok    ' if executed else 'FAILED'}  {rel}")
    return [results[p] for p in paths]


def _site_config(name: str, cache_dir: Path, execute: bool, not_executed: list[str]) -> Path:
    """``_config.yml`` with this build's execution settings, written under ``_build/toc/``."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    ex = cfg.setdefault("execute", {})
    ex["execute_notebooks"] = "cache" if execute else "off"
    ex["cache"] = str(cache_dir)
    ex["exclude_patterns"] = list(ex.get("exclude_patterns") or []) + not_executed
    # Jupyter Book resolves local extensions relative to the config file's folder
    cfg["sphinx"]["local_extensions"] = {k: str(ROOT / v) for k, v in cfg["sphinx"]["local_extensions"].items()}
    path = BUILD_DIR / "toc" / f"{name}-config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return path


def build(quick: bool = False, solutions: bool = True, path_output: Path | None = None,
          execute: bool = True, extra_env: dict | None = None, *, jobs: int | None = None,
          execute_solutions: bool | None = None, report=None) -> Build:
    """Build the website: execute its notebooks once (in parallel), then ``jupyter-book build -W``.

    Does not raise. ``execute_solutions`` (default: in full mode only) runs the solution notebooks
    so their pages show the visible tests passing; the quick build of the test suite leaves them
    unexecuted (grading the solution is their test). A notebook that fails is reported in
    ``Build.executions`` and rendered without outputs, so every other page is still built.
    ``report`` gets the progress lines (``hepcourse site`` prints them).

    A classroom build (``solutions=False``) goes to ``_build/classroom`` unless told otherwise
    (executing from the default build's cache), and starts from an empty HTML folder wherever it
    goes: no page of an earlier build with solutions survives.
    """
    start = time.perf_counter()
    report = report or (lambda line: None)
    shared_cache = BUILD_DIR / ".jupyter_cache" if not solutions and path_output is None else None
    if not solutions:
        path_output = Path(path_output) if path_output else CLASSROOM_OUTPUT
        _remove_rendered(Path(path_output) / "_build")
    out = Path(path_output) if path_output else ROOT
    name = f"{'quick' if quick else 'full'}-{'solutions' if solutions else 'classroom'}"
    if execute_solutions is None:
        execute_solutions = not quick
    if solutions:
        generate_solutions()
    toc_path = toc(solutions, BUILD_DIR / "toc" / f"{name}.yml")
    cache_dir = shared_cache or out / "_build" / ".jupyter_cache"
    env = {**(extra_env or {}), "HEPCOURSE_QUICK": "1" if quick else "",
           "HEPCOURSE_PROGRESS": "0",   # no training progress bars on the pages: each update would show as a line
           "PYTHONUNBUFFERED": "1"}
    jobs = jobs or max(1, min(os.cpu_count() or 1, 4))
    if "OMP_NUM_THREADS" not in os.environ and jobs > 1:   # kernels side by side: share the cores
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))

    executions: list[Execution] = []
    not_executed: list[str] = []
    if execute:
        notebooks = notebooks_to_execute(toc_path, solutions and execute_solutions)
        if solutions and not execute_solutions:
            not_executed.append("book/solutions/*.ipynb")
        # Notebooks must draw with the inline backend: an inherited MPLBACKEND=Agg would silently
        # drop every figure from the site (and the cache would keep the figureless pages).
        executions = execute_notebooks(notebooks, cache_dir, jobs=jobs, env={**env, "MPLBACKEND": None},
                                       timeout=int(yaml.safe_load((ROOT / "_config.yml").read_text())
                                                   ["execute"].get("timeout", 300)), report=report)
        not_executed += [e.notebook for e in executions if e.status == "failed"]
    config_path = _site_config(name, cache_dir, execute, not_executed)

    args = ["build", ".", "-W", "--keep-going", "--toc", str(toc_path), "--config", str(config_path)]
    if path_output:
        args += ["--path-output", str(out)]
    exe = Path(sys.executable).with_name("jupyter-book")
    run_env = {**os.environ, **{k: v for k, v in env.items() if v is not None}}
    run_env.pop("MPLBACKEND", None)
    report("  writing the HTML pages (jupyter-book build) ...")
    proc = subprocess.run([str(exe) if exe.exists() else "jupyter-book", *args], cwd=ROOT, env=run_env,
                          capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    if execute and "Executing notebook" in log:      # every notebook should have come from the cache
        log += "\nnote: jupyter-book executed a notebook itself (a cache miss); see the log above"
    return Build(proc.returncode, out / "_build" / "html", log, executions, time.perf_counter() - start)
