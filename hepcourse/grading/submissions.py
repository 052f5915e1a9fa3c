"""Build submissions for tests: the release with answers filled in, some of them wrong.

A wrong-answer variant names solution cells by ``grade_id`` and gives their replacement source;
every other solution cell gets the reference solution. Because the variant is built from the
committed release at test time, it follows every change of the assignment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import nbformat
import yaml

from .course import release_notebook, source_notebook

_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def without_markers(source: str) -> str:
    """A solution cell's code without its ``### BEGIN/END SOLUTION`` lines."""
    return "\n".join(ln for ln in source.splitlines() if ln.strip() not in _MARKERS)


def solution_sources(assignment: str) -> dict[str, str]:
    """grade_id → the reference solution code of each solution cell (markers removed)."""
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: without_markers(c.source) for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def filled_release(assignment: str, replacements: Mapping[str, str] | None = None,
                   blank: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """The release with every solution cell answered by the reference solution, except that
    cells in ``replacements`` get the given source and cells in ``blank`` keep the stub."""
    replacements = dict(replacements or {})
    solutions = solution_sources(assignment)
    unknown = set(replacements) - set(solutions)
    if unknown:
        raise KeyError(f"{assignment} has no solution cells {sorted(unknown)}; it has {sorted(solutions)}")
    nb = nbformat.read(release_notebook(assignment), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid not in blank:
            cell.source = replacements.get(gid, solutions.get(gid, cell.source))
    return nb


def load_variants(path: Path) -> dict[str, dict]:
    """Read ``tests/submissions/<assignment>.yml``: ``variants: {name: {description, replace, wrong_parts}}``."""
    spec = yaml.safe_load(Path(path).read_text())
    variants = spec.get("variants") or {}
    for name, v in variants.items():
        if not v.get("replace") or "wrong_parts" not in v:
            raise ValueError(f"{path}: variant {name!r} needs 'replace' and 'wrong_parts'")
    return variants


def build_submission(assignment: str, spec: Mapping, context: Mapping[str, str] | None = None) -> bytes:
    """The bytes of a submission described by ``spec`` (used for the robustness tests).

    Keys: ``raw`` (the file's text, e.g. broken JSON), ``replace`` (grade_id → source of a solution
    cell), ``prepend``/``append`` (grade_id → code put before/after the reference solution), ``blank`` (solution cells left as released), ``edit_cells`` (grade_id → new source of any
    cell, tests included), ``delete_cells``, ``strip_metadata`` (cells that lose their nbgrader
    metadata), ``rename_grade_id`` (old → new), ``kernel`` (another kernel name). A ``{name}`` in
    sources is replaced by ``context[name]`` when ``name`` is a key of it (e.g. absolute paths an attack aims at).
    """
    context = dict(context or {})
    fill = lambda text: re.sub(r"\{(\w+)\}", lambda m: context.get(m.group(1), m.group(0)), text)  # noqa: E731
    if "raw" in spec:
        return fill(spec["raw"]).encode()
    replace = {k: fill(v) for k, v in (spec.get("replace") or {}).items()}
    reference = solution_sources(assignment)
    for gid, code in (spec.get("prepend") or {}).items():
        replace[gid] = fill(code) + "\n" + replace.get(gid, reference[gid])
    for gid, code in (spec.get("append") or {}).items():
        replace[gid] = replace.get(gid, reference[gid]) + "\n" + fill(code)
    nb = filled_release(assignment, replace, tuple(spec.get("blank") or ()))
    edits = {k: fill(v) for k, v in (spec.get("edit_cells") or {}).items()}
    deleted = set(spec.get("delete_cells") or ())
    stripped = set(spec.get("strip_metadata") or ())
    renamed = dict(spec.get("rename_grade_id") or {})
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in deleted:
            continue
        if gid in edits:
            cell.source = edits[gid]
        if gid in stripped:
            cell.metadata.pop("nbgrader", None)
        if gid in renamed:
            cell.metadata["nbgrader"]["grade_id"] = renamed[gid]
        cells.append(cell)
    nb.cells = cells
    if spec.get("kernel"):
        nb.metadata["kernelspec"] = {"name": spec["kernel"], "display_name": spec["kernel"], "language": "other"}
    return nbformat.writes(nb).encode()
