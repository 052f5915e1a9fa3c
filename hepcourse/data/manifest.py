"""``data/MANIFEST``: what is committed in ``data/``, with checksums and how to rebuild it.

The manifest is one YAML document with two sections, read and written only here:

* ``datasets``: ``{file name in data/: entry}``. Each entry has at least ``sha256`` and
  ``size_bytes`` of the committed file and the ``command`` that rebuilds it; a generated data set's
  entry also records the generator and FastJet versions, the seed, the settings and the counts
  (written by ``hepcourse data make``).
* ``checkpoints``: ``{path from the repository root: entry}``, the committed lecture models
  (written by :mod:`hepcourse.checkpoints`).

Writing one section keeps the other as it is. Two ROOT writes of the same arrays differ in their
bytes (time stamps, UUIDs), so the checksum guards against corruption and accidental edits, not
against regeneration: regenerating rewrites the entry.

A file that is missing or whose checksum differs raises :class:`DataFileError`, naming the file
and the command that rebuilds it. Nothing is silently regenerated.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import yaml

from .. import config

__all__ = ["DataFileError", "manifest_path", "sha256", "read_manifest", "write_section", "record", "verify", "entry"]

HEADER = """\
# data/MANIFEST: the committed files under data/, with checksums and how to rebuild them
# (read and written by hepcourse/data/manifest.py; do not edit by hand).
# datasets: generated data sets (hepcourse data make NAME); checkpoints: lecture models
# (make checkpoints); tests/test_data_*.py and tests/test_checkpoints.py check both.
"""
SECTIONS = ("datasets", "checkpoints")


def manifest_path() -> Path:
    """``data/MANIFEST`` of the repository (``config.DATA_DIR``, read at each call)."""
    return config.DATA_DIR / "MANIFEST"


class DataFileError(RuntimeError):
    """A data file is missing, corrupt or not what the MANIFEST says."""


def sha256(path: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


_PARSED: dict[str, tuple[str, dict]] = {}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)      # libyaml's parser when PyYAML has it: ~7x faster


def read_manifest(manifest: Path | None = None) -> dict:
    """The two sections of the MANIFEST as dicts (a fresh copy the caller may change).

    Every ``load()`` reads the MANIFEST and a notebook loads several splits, so the parsed document is
    kept per file together with the text it was parsed from; the file is still read at each call and
    parsed again whenever its text differs."""
    manifest = Path(manifest or manifest_path())
    if not manifest.exists():
        return {section: {} for section in SECTIONS}
    text = manifest.read_text()
    cached = _PARSED.get(str(manifest))
    if cached is None or cached[0] != text:
        doc = yaml.load(text, Loader=_LOADER) or {}
        cached = (text, {section: doc.get(section) or {} for section in SECTIONS})
        _PARSED[str(manifest)] = cached
    return copy.deepcopy(cached[1])


def write_section(section: str, key: str, value: dict, manifest: Path | None = None) -> None:
    """Write (or replace) one entry of one section, keeping everything else.

    Atomic, like the data files: the new MANIFEST is written to a temporary file beside it and renamed
    over the old one, so an interrupted write never leaves a truncated MANIFEST."""
    if section not in SECTIONS:
        raise ValueError(f"unknown MANIFEST section {section!r}; one of {SECTIONS}")
    manifest = Path(manifest or manifest_path())
    doc = read_manifest(manifest)
    doc[section][key] = value
    doc[section] = dict(sorted(doc[section].items()))
    manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest.with_name(f".{manifest.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(HEADER + yaml.safe_dump(doc, sort_keys=False, width=120))
        os.replace(tmp, manifest)
    finally:
        tmp.unlink(missing_ok=True)


def _key(path: Path, manifest: Path) -> str:
    path = Path(path).resolve()
    try:
        return path.relative_to(manifest.resolve().parent).as_posix()
    except ValueError:
        return path.name


def record(path: Path, info: dict, manifest: Path | None = None) -> dict:
    """Write (or rewrite) the entry of ``path``: checksum, size and ``info``."""
    manifest = Path(manifest or manifest_path())
    entry_ = {"sha256": sha256(path), "size_bytes": Path(path).stat().st_size, **info}
    write_section("datasets", _key(path, manifest), entry_, manifest)
    return entry_


def entry(path: Path, manifest: Path | None = None) -> dict | None:
    manifest = Path(manifest or manifest_path())
    return read_manifest(manifest)["datasets"].get(_key(path, manifest))


_VERIFIED: dict[tuple, bool] = {}


def verify(path: Path, manifest: Path | None = None, rebuild: str | None = None) -> dict:
    """Check that ``path`` exists and matches its MANIFEST checksum; return its entry.

    Raises :class:`DataFileError` naming the file and the command that rebuilds it. The result is
    cached per (file, size, modification time), so a notebook that loads the same file several
    times hashes it once."""
    path = Path(path)
    info = entry(path, manifest)
    command = rebuild or (info or {}).get("command") or "hepcourse data make <name>"
    if not path.exists():
        raise DataFileError(f"data file {path} is missing. Rebuild it with:\n    {command}\n"
                            "(or restore the committed file: git checkout -- data/)")
    if info is None:
        raise DataFileError(f"data file {path} has no entry in {Path(manifest or manifest_path())}; "
                            f"regenerate it with:\n    {command}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, info["sha256"])
    if key not in _VERIFIED:
        got = sha256(path)
        if got != info["sha256"]:
            raise DataFileError(f"data file {path} is corrupt or was changed: sha256 {got[:16]}… but the MANIFEST "
                                f"says {info['sha256'][:16]}…. Restore it (git checkout -- {path.name}) or "
                                f"rebuild it with:\n    {command}")
        _VERIFIED[key] = True
    return info
