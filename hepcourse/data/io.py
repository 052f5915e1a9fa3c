"""ROOT files of the course's data sets, written and read with uproot and awkward.

Layout of a data-set file (``data/jets-top-qcd.root``):

* one TTree per process (``top``, ``qcd``), one entry per jet, written in baskets of one chunk
  (1000 jets), so reading the first few thousand jets touches only the first baskets;
* flat branches ``jet_pt, jet_eta, jet_phi, jet_m`` (GeV), ``jet_nparticles``, ``jet_tau1..3``,
  ``label``, ``event_pthat``, ``event_index``, ``event_chunk`` and, for signal, the truth partons
  ``top_*, b_*, w_*, q1_*, q2_*`` (``pt, eta, phi, m, id``) and ``truth_drmax``;
* jagged branches ``part_pt, part_eta, part_phi, part_e`` (float32, GeV), ``part_charge`` (int8,
  units of e) and ``part_pid`` (int32, PDG id) with their counter ``npart``: the leading
  constituents of the jet sorted by decreasing pT;
* ``meta``: a TObjString holding a JSON document (seed, settings, versions, counts).

:func:`read` returns an awkward array with the jagged branches zipped into one field ``part``
(``jets.part.pt``); :func:`read_meta` the JSON document.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["read", "read_meta", "tree_names", "num_entries", "write_dataset", "write_chunk", "merge_chunks",
           "chunk_is_complete", "chunk_stats", "COMPRESSION"]

COMPRESSION = ("LZMA", 6)
"""Compression of the written files: LZMA level 6 (Python's standard library decodes it; files
are about 25% smaller than with ZLIB; reading is fast enough for data sets of this size)."""

PART_FIELDS = ("pt", "eta", "phi", "e", "charge", "pid")


def _compression():
    import uproot

    algo, level = COMPRESSION
    return getattr(uproot, algo)(level)


def _branches(cols: dict) -> dict:
    """Column dict (flat NumPy arrays + ``part``: dict of jagged arrays) → uproot branch dict."""
    import awkward as ak

    out = {k: np.asarray(v) for k, v in cols.items() if k != "part" and not k.startswith("_")}
    if "part" in cols:
        part = cols["part"]
        names = [f for f in PART_FIELDS if f in part] + [f for f in part if f not in PART_FIELDS]
        out["part"] = ak.zip({f: part[f] for f in names})
    return out


def n_rows(cols: dict) -> int:
    """Number of entries (jets or events) in a column dict."""
    return len(next(v for k, v in cols.items() if k != "part" and not k.startswith("_")))


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_chunk(path: Path, cols: dict, stats: dict) -> None:
    """One chunk of one process, written atomically (a partial file never has the final name)."""
    import uproot

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    with uproot.recreate(tmp, compression=uproot.ZLIB(1)) as f:
        f["meta"] = json.dumps({"stats": stats})
        f.mktree("jets", _branches(cols))
    os.replace(tmp, path)


def chunk_is_complete(path: Path) -> bool:
    """A chunk file exists under its final name only once it was written completely."""
    return Path(path).exists()


def chunk_stats(path: Path) -> dict:
    import uproot

    with uproot.open(path) as f:
        return json.loads(str(f["meta"]))["stats"]


def _read_chunk(path: Path) -> dict:
    import uproot

    with uproot.open(path) as f:
        arrays = f["jets"].arrays(how="zip")
    cols = {k: arrays[k].to_numpy() for k in arrays.fields if k != "part"}
    cols["part"] = {k: arrays["part"][k] for k in arrays["part"].fields}
    return cols


def merge_chunks(spec, paths: dict) -> dict:
    """Read the chunks of every process in chunk order: {tree: [column dict per chunk]} as one
    column dict per tree whose ``chunks`` entry keeps the per-chunk pieces for basket-wise writing."""
    import awkward as ak

    trees = {}
    for p, process in enumerate(spec.processes):
        keys = sorted(k for k in paths if k[0] == p)
        pieces = [_read_chunk(paths[k]) for k in keys]
        merged = {k: np.concatenate([c[k] for c in pieces]) for k in pieces[0] if k != "part"}
        merged["part"] = {f: ak.concatenate([c["part"][f] for c in pieces]) for f in pieces[0]["part"]}
        merged["_pieces"] = [n_rows(c) for c in pieces]
        trees[process.name] = merged
    return trees


def write_dataset(path: Path, trees: dict, meta: dict) -> None:
    """Write the data-set file: one tree per process (one basket per chunk) and the ``meta`` JSON.
    Written to a temporary name and renamed, so a crash never leaves a half-written data set."""
    import uproot

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    with uproot.recreate(tmp, compression=_compression()) as f:
        f["meta"] = json.dumps(meta, sort_keys=True)
        for name, cols in trees.items():
            sizes = cols.get("_pieces") or [n_rows(cols)]
            start = 0
            for i, size in enumerate(sizes):
                piece = _slice(cols, start, start + size)
                if i == 0:
                    f.mktree(name, _branches(piece), initial_basket_capacity=len(sizes) + 10)
                else:
                    f[name].extend(_branches(piece))
                start += size
    os.replace(tmp, path)


def _slice(cols: dict, start: int, stop: int) -> dict:
    out = {k: v[start:stop] for k, v in cols.items() if k not in ("part", "_pieces")}
    out["part"] = {f: a[start:stop] for f, a in cols["part"].items()}
    return out


def tree_names(path: Path) -> list[str]:
    import uproot

    with uproot.open(path) as f:
        return sorted({k.split(";")[0] for k, cls in f.classnames().items() if cls == "TTree"})


def num_entries(path: Path, tree: str) -> int:
    import uproot

    with uproot.open(path) as f:
        return int(f[tree].num_entries)


def read_meta(path: Path) -> dict:
    """The JSON document stored in the file's ``meta`` object."""
    import uproot

    with uproot.open(path) as f:
        return json.loads(str(f["meta"]))


def jet_fields(path: Path, tree: str) -> list[str]:
    """The names of the jet-level branches of ``tree`` (everything but the constituents)."""
    import uproot

    with uproot.open(path) as f:
        return [b for b in f[tree].keys() if not b.startswith("part_")]


def read(path: Path, tree: str, entry_start: int | None = None, entry_stop: int | None = None,
         fields: list[str] | None = None):
    """Read jets of one tree as an awkward array of records; the constituents are the field
    ``part`` (a jagged record array with ``pt, eta, phi, e, charge, pid``).

    ``fields`` selects branches by name (``"part"`` for all constituent branches)."""
    import uproot

    with uproot.open(path) as f:
        t = f[tree]
        names = None
        if fields is not None:
            names = []
            for name in fields:
                names += [b for b in t.keys() if b.startswith("part_")] + ["npart"] if name == "part" else [name]
        return t.arrays(names, entry_start=entry_start, entry_stop=entry_stop, how="zip")
