"""Generate the student releases (``exercises/``) from the nbgrader sources (``solutions/``).

``exercises/`` is committed, so learners can read an assignment on the website or open it in
JupyterLab without running nbgrader. ``release`` regenerates it; it refuses to overwrite a release
that was edited by hand since it was generated (its sha256 no longer matches ``RELEASES.sha256``),
unless forced. A release with no recorded checksum counts as edited.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import nbformat

from .course import RELEASE_DIR, assignments, course_config, source_notebook
from .errors import GradingError

CHECKSUMS_NAME = "RELEASES.sha256"


class ModifiedReleaseError(GradingError, RuntimeError):
    """A committed release was edited after it was generated."""


def generate_release(assignment: str, out_dir: Path) -> Path:
    """Run ``nbgrader generate_assignment`` on a temporary copy of the course; return the notebook.

    The release is written to ``out_dir/<assignment>/<assignment>.ipynb`` and is independent
    of any gradebook (a throwaway one is used).
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    with tempfile.TemporaryDirectory(prefix="hepcourse-release-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(source_notebook(assignment).parent, tmp / "source" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        cfg = course_config(tmp, tmp / "gradebook.db", source="source", release="release")
        cfg.NbGraderAPI.log_level = "ERROR"
        api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
        result = api.generate_assignment(assignment)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{result.get('error') or result.get('log')}")
        produced = tmp / "release" / assignment / f"{assignment}.ipynb"
        target = Path(out_dir) / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nb = nbformat.read(produced, as_version=4)
        nbformat.write(nb, target)
    return target


def normalised(path: Path) -> list[dict]:
    """What must agree between two releases: each cell's type, id, source and nbgrader metadata."""
    nb = nbformat.read(path, as_version=4)
    return [{"type": c.cell_type, "id": c.get("id"), "source": c.source.strip(),
             "nbgrader": dict(c.metadata.get("nbgrader", {}))} for c in nb.cells]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_checksums(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def release(names: list[str] | None = None, force: bool = False, release_dir: Path = RELEASE_DIR) -> list[Path]:
    """Regenerate ``exercises/`` for ``names`` (default: every assignment); return the written files."""
    names = names or assignments()
    checksums = Path(release_dir) / CHECKSUMS_NAME
    recorded = _read_checksums(checksums)
    for name in names:
        target = Path(release_dir) / name / f"{name}.ipynb"
        rel = target.relative_to(release_dir).as_posix()
        if target.exists() and not force and recorded.get(rel) != _sha256(target):
            raise ModifiedReleaseError(
                f"{target} was edited after it was released; its edits would be lost. "
                "Move your changes into solutions/ (the source), or rerun with --force.")
    written = []
    for name in names:
        path = generate_release(name, release_dir)
        recorded[path.relative_to(release_dir).as_posix()] = _sha256(path)
        written.append(path)
    checksums.write_text("".join(f"{d}  {n}\n" for n, d in sorted(recorded.items())))
    return written
