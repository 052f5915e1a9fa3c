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
from dataclasses import dataclass
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
            target = out_dir / f"{assignment}.ipynb"
            nbformat.write(nb, target)
            written.append(target)
    return written


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
class Build:
    returncode: int
    html: Path
    log: str


def build(quick: bool = False, solutions: bool = True, path_output: Path | None = None,
          execute: bool = True, extra_env: dict | None = None) -> Build:
    """Run ``jupyter-book build . -W --keep-going`` and return the result (it does not raise).

    A classroom build (``solutions=False``) goes to ``_build/classroom`` unless told otherwise, and
    starts from an empty HTML folder wherever it goes: no page of an earlier build survives.
    """
    if not solutions:
        path_output = Path(path_output) if path_output else CLASSROOM_OUTPUT
        _remove_rendered(Path(path_output) / "_build")
    out = Path(path_output) if path_output else ROOT
    name = f"{'quick' if quick else 'full'}-{'solutions' if solutions else 'classroom'}"
    if solutions:
        generate_solutions()
    args = ["build", ".", "-W", "--keep-going", "--toc", str(toc(solutions, BUILD_DIR / "toc" / f"{name}.yml"))]
    if path_output:
        args += ["--path-output", str(out)]
    if not execute:
        cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
        cfg["execute"]["execute_notebooks"] = "off"
        # Jupyter Book resolves local extensions relative to the config file's folder
        cfg["sphinx"]["local_extensions"] = {k: str(ROOT / v) for k, v in cfg["sphinx"]["local_extensions"].items()}
        cfg_path = BUILD_DIR / "toc" / f"{name}-config.yml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        args += ["--config", str(cfg_path)]
    exe = Path(sys.executable).with_name("jupyter-book")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    env["HEPCOURSE_QUICK"] = "1" if quick else ""
    env["HEPCOURSE_PROGRESS"] = "0"   # no training progress bars on the pages: each update would show as a line
    # Notebooks must draw with the inline backend: an inherited MPLBACKEND=Agg would silently
    # drop every figure from the site (and the execution cache would keep the figureless pages).
    env.pop("MPLBACKEND", None)
    proc = subprocess.run([str(exe) if exe.exists() else "jupyter-book", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    return Build(proc.returncode, out / "_build" / "html", proc.stdout + proc.stderr)
