"""Readers for the public benchmark formats, for learners who have the files.

Nothing here downloads anything; give the path of a file you obtained yourself.

* **Top-tagging landscape** (Kasieczka et al., SciPost Phys. 7 (2019) 014; Zenodo 2603256):
  ``train.h5``, ``val.h5``, ``test.h5``, each a pandas HDFStore with key ``table``: one row per
  jet, columns ``E_i, PX_i, PY_i, PZ_i`` for the 200 leading constituents (i = 0..199, zero
  padded, GeV), ``truthE, truthPX, truthPY, truthPZ`` (the top quark, zero for QCD), ``ttv``
  (0 train, 1 test, 2 validation) and ``is_signal_new`` (1 top, 0 QCD).
  → :func:`read_top_tagging`.
* **LHC Olympics 2020 R&D** (Kasieczka et al., Rep. Prog. Phys. 84 (2021) 124201; Zenodo
  2629073): ``events_anomalydetection*.h5``, a pandas HDFStore (key ``df``), one row per event,
  2100 columns = 700 particles × (pT, η, φ) zero padded (GeV), and in the R&D file a last
  column with the signal label. → :func:`read_lhco`.
* **CaloChallenge 2022** (Krause et al., arXiv:2410.21611): plain HDF5 written with h5py,
  datasets ``incident_energies`` (N, 1) and ``showers`` (N, n_voxels), both in MeV; voxels in
  the order (layer, angular bin, radial bin) with the radial index fastest: dataset 2 has
  45 × 16 × 9 = 6480 voxels, dataset 3 45 × 50 × 18 = 40500; dataset 1 (photons 368, pions
  533) has layers of different sizes. → :func:`read_calochallenge`.

How they differ from the course's generated data: the public sets went through Delphes (a
parametrised detector), store four-momenta without charge or particle type, have no MPI in the
top-tagging set, and come with their own splits (see book/data.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["read_top_tagging", "read_lhco", "read_calochallenge", "CALOCHALLENGE_GEOMETRY"]

CALOCHALLENGE_GEOMETRY = {6480: (45, 16, 9), 40500: (45, 50, 18)}
"""Voxel count → (layers, angular bins, radial bins) of CaloChallenge datasets 2 and 3."""


def _read_frame(path: Path, key: str | None, start: int | None, stop: int | None):
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (the course never downloads public data sets; "
                                "see book/data.md for where to get them)")
    with pd.HDFStore(path, mode="r") as store:
        keys = store.keys()
        if key is None:
            if len(keys) != 1:
                raise ValueError(f"{path} holds several tables {keys}: pass key=")
            key = keys[0]
        return store.select(key, start=start, stop=stop)


def read_top_tagging(path, start: int | None = None, stop: int | None = None, key: str = "table",
                     max_constituents: int = 200) -> dict:
    """Read a file of the top-tagging landscape data set.

    Returns a dict with ``p4`` (N, P, 4) float32 constituent four-momenta (E, px, py, pz) in GeV,
    ``mask`` (N, P) (constituents with E > 0), ``labels`` (N,) int64 (1 top, 0 QCD), ``truth_p4``
    (N, 4) (the top quark; zero for QCD) and ``ttv`` (N,) (0 train, 1 test, 2 validation).
    ``start``/``stop`` select rows (jets) without reading the whole file.
    """
    df = _read_frame(path, key, start, stop)
    n = max(int(c[2:]) for c in df.columns if c.startswith("E_")) + 1
    n = min(n, max_constituents)
    p4 = np.stack([df[[f"{c}_{i}" for i in range(n)]].to_numpy(dtype=np.float32) for c in ("E", "PX", "PY", "PZ")],
                  axis=-1)
    out = {"p4": p4, "mask": p4[..., 0] > 0, "labels": df["is_signal_new"].to_numpy().astype(np.int64)}
    if "truthE" in df.columns:
        out["truth_p4"] = df[["truthE", "truthPX", "truthPY", "truthPZ"]].to_numpy(dtype=np.float32)
    if "ttv" in df.columns:
        out["ttv"] = df["ttv"].to_numpy().astype(np.int64)
    return out


def read_lhco(path, start: int | None = None, stop: int | None = None, key: str | None = None,
              n_particles: int = 700) -> dict:
    """Read an LHC Olympics 2020 file (R&D or black box).

    Returns ``particles`` (N, 700, 3) float32 with (pT, η, φ) in GeV, ``mask`` (N, 700) (pT > 0)
    and ``labels`` (N,) int64 when the file has the label column (2101 columns), else None.
    """
    df = _read_frame(path, key, start, stop)
    values = df.to_numpy(dtype=np.float64)
    n_cols = 3 * n_particles
    if values.shape[1] not in (n_cols, n_cols + 1):
        raise ValueError(f"{path}: expected {n_cols} or {n_cols + 1} columns (700 particles × (pT, η, φ) "
                         f"[+ label]), got {values.shape[1]}")
    particles = values[:, :n_cols].reshape(len(values), n_particles, 3).astype(np.float32)
    labels = values[:, n_cols].astype(np.int64) if values.shape[1] == n_cols + 1 else None
    return {"particles": particles, "mask": particles[..., 0] > 0, "labels": labels}


def read_calochallenge(path, start: int | None = None, stop: int | None = None, reshape: bool = True) -> dict:
    """Read a CaloChallenge 2022 file.

    Returns ``energies`` (N,) float32 (incident energy, MeV) and ``showers``: (N, layers, angular,
    radial) for datasets 2 and 3 (``reshape=True``), else the flat (N, n_voxels), in MeV.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (the course never downloads public data sets)")
    with h5py.File(path, "r") as f:
        energies = f["incident_energies"][start:stop].astype(np.float32).reshape(-1)
        showers = f["showers"][start:stop].astype(np.float32)
    if reshape and showers.shape[1] in CALOCHALLENGE_GEOMETRY:
        showers = showers.reshape(len(showers), *CALOCHALLENGE_GEOMETRY[showers.shape[1]])
    return {"energies": energies, "showers": showers}
