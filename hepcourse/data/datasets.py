"""Load the course's data sets in one line: ``hepcourse.data.load("jets-top-qcd", split="train")``.

Splits are fixed and documented: jet number *i* of a process (its entry in the tree) belongs to

* ``train`` if i mod 5 ∈ {0, 1, 2} (60%), ``val`` if i mod 5 = 3 (20%), ``test`` if i mod 5 = 4 (20%),

the 60/20/20 split of the public top-tagging benchmark. The rule depends only on the entry
number, so a larger file (more chunks) keeps every jet in its split, and the first few thousand
jets of a file (quick mode) are a fair sample of each split.

What :func:`load` returns (``format=``):

* ``"awkward"``: an awkward array of jets with the stored fields (``jet_pt``, ``part.pt``, ...)
  plus ``tree``, ``entry``, ``split`` and the high-level features of :data:`FEATURES`;
* ``"numpy"`` / ``"torch"``: a :class:`JetTensors` with padded constituents ``particles``
  (N, P, F), their ``mask`` (N, P), high-level ``features`` (N, K) and ``labels`` (N,).

The three kinds of data set (:mod:`hepcourse.data.registry`) share the loader; what each supports:

================  ======================  =========================  ===========  ===================
data set kind     features (default all)  particle_fields            detector     max_particles=0
================  ======================  =========================  ===========  ===================
jets              :data:`FEATURES`        :data:`PARTICLE_FIELDS`    yes          jet level only
events            :data:`EVENT_SHAPES`    stored: pt … pid           no           event level only
dijets            :data:`DIJET_FEATURES`  stored: pt … pid, jet      no           event level only
================  ======================  =========================  ===========  ===================

An option a data set does not support raises ``ValueError`` saying what it supports.

Signal and background are interleaved in a fixed pseudo-random order (seeded by the split's
name), so the first k jets are a balanced sample. ``detector=True`` passes the constituents
through the toy detector (:mod:`hepcourse.data.detector`) and recomputes every feature from the
reconstructed candidates.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from . import io
from .registry import DatasetSpec, dataset

__all__ = ["load", "JetTensors", "pad", "unpad", "split_mask", "SPLITS", "FEATURES", "PARTICLE_FIELDS",
           "EVENT_SHAPES", "DIJET_FEATURES", "STORED_PARTICLE_FIELDS", "data_path", "QUICK_JETS", "shuffled_order"]

SPLITS = {"train": (0, 1, 2), "val": (3,), "test": (4,), "all": (0, 1, 2, 3, 4)}
FEATURES = ("pt", "eta", "phi", "m", "n_particles", "tau1", "tau2", "tau3", "tau21", "tau32")
"""High-level features: jet pT, η, φ, mass (GeV), constituent multiplicity, N-subjettiness
τ_1..τ_3 (β = 1, exclusive-kT axes, R_0 = 0.8) and the ratios τ_21 = τ_2/τ_1, τ_32 = τ_3/τ_2."""
PARTICLE_FIELDS = ("pt", "eta", "phi", "e", "charge", "pid", "deta", "dphi", "log_pt", "log_e",
                   "pt_rel", "e_rel", "dr")
"""Per-constituent quantities :func:`load` can put in the tensor: the stored ones, and
Δη, Δφ, ΔR to the jet axis, log pT, log E, pT/pT_jet, E/E_jet."""
STORED_PARTICLE_FIELDS = ("pt", "eta", "phi", "e", "charge", "pid")
"""The per-constituent quantities stored in the files (``dijet-resonance`` also stores ``jet``, 0 or 1)."""
EVENT_SHAPES = ("thrust", "sphericity", "aplanarity", "c_parameter", "heavy_jet_mass", "b_total", "b_wide",
                "e_visible", "n_particles", "n_charged")
"""Event-level quantities of the ``ee-z-hadrons`` data set (see :mod:`hepcourse.physics.event_shapes`)."""
DIJET_FEATURES = ("mjj", "j1_m", "j2_m", "j1_pt", "j2_pt", "j1_tau21", "j2_tau21", "j1_tau32", "j2_tau32", "deta")
"""Event-level features of ``dijet-resonance``: the dijet mass, the two jets' masses, pT and
N-subjettiness ratios, and their pseudorapidity difference (GeV where dimensioned)."""
QUICK_JETS = 2_000
"""Jets per class and split that ``n=None`` means in quick mode (``HEPCOURSE_QUICK=1``)."""


def data_path(name: str) -> Path:
    """``data/<file>`` of data set ``name``."""
    return config.DATA_DIR / dataset(name).filename


def split_mask(entries, split: str) -> np.ndarray:
    """True for the entries (jet numbers within their tree) that belong to ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    return np.isin(np.asarray(entries) % 5, SPLITS[split])


def shuffled_order(name: str, split: str, n: int) -> np.ndarray:
    """The fixed pseudo-random order of the ``n`` jets (events) of a split: a permutation seeded by the
    CRC-32 of ``"<name>/<split>"``, so that every reader of the split sees the same order."""
    return np.random.default_rng(zlib.crc32(f"{name}/{split}".encode())).permutation(n)


@dataclass
class JetTensors:
    """Padded constituents, mask, high-level features and labels of a set of jets."""

    particles: np.ndarray            # (N, P, F) float32, zero where mask is False
    mask: np.ndarray                 # (N, P) bool
    features: np.ndarray             # (N, K) float32
    labels: np.ndarray               # (N,) int64: 1 signal, 0 background
    particle_fields: tuple[str, ...]
    feature_names: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def feature(self, name: str) -> np.ndarray:
        """One high-level feature by name."""
        return self.features[:, self.feature_names.index(name)]

    def to_torch(self, device=None) -> "JetTensors":
        """The same arrays as torch tensors (on ``device``)."""
        import torch

        conv = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
        return JetTensors(conv(self.particles), conv(self.mask), conv(self.features), conv(self.labels),
                          self.particle_fields, self.feature_names, self.meta)


def pad(jagged, max_len: int, fill: float = 0.0, dtype=np.float32):
    """Pad a jagged array (awkward, ``(N, var)`` or records ``(N, var, {fields})``) to a dense
    ``(N, max_len)`` or ``(N, max_len, F)`` array; longer lists are truncated (keeping the first
    entries, the leading ones for pT-sorted constituents). Returns ``(array, mask)``."""
    import awkward as ak

    fields = ak.fields(jagged)
    padded = ak.pad_none(jagged[:, :max_len], max_len, axis=1, clip=True)
    mask = ak.to_numpy(ak.is_none(padded, axis=1)) == False  # noqa: E712
    if fields:
        arr = np.stack([ak.to_numpy(ak.fill_none(padded[f], fill)).astype(dtype) for f in fields], axis=-1)
    else:
        arr = ak.to_numpy(ak.fill_none(padded, fill)).astype(dtype)
    return arr, mask


def unpad(array, mask, fields: tuple[str, ...] | None = None):
    """Inverse of :func:`pad`: the entries of ``array`` where ``mask`` is True, as a jagged
    awkward array (records named by ``fields`` when ``array`` has a last feature axis)."""
    import awkward as ak

    array, mask = np.asarray(array), np.asarray(mask, dtype=bool)
    counts = mask.sum(axis=1)
    flat = array[mask]
    if array.ndim == 2:
        return ak.unflatten(flat, counts)
    names = fields or tuple(str(i) for i in range(array.shape[-1]))
    return ak.zip({n: ak.unflatten(flat[:, i], counts) for i, n in enumerate(names)})


def _read_split(path: Path, tree: str, split: str, n: int | None, batch: int = 5, strict: bool = True,
                fields: list[str] | None = None):
    """The first ``n`` jets of ``split`` in ``tree`` (all of them if n is None; fewer than n
    raise unless ``strict`` is False); only the branches ``fields`` if given."""
    import awkward as ak

    stop = None if n is None else -(-n * 5 // len(SPLITS[split])) + batch
    arr = io.read(path, tree, entry_stop=stop, fields=fields)     # uproot stops at the end of the tree
    entries = np.arange(len(arr))
    keep = split_mask(entries, split)
    arr, entries = arr[keep], entries[keep]
    if n is not None:
        if len(arr) < n and strict:
            from .registry import DATASETS

            name = next((k for k, s in DATASETS.items() if s.filename == path.name), "<name>")
            raise ValueError(f"{path.name} has only {len(arr)} {tree} jets in split {split!r}, {n} requested; "
                             f"generate more with: hepcourse data make {name} --events N")
        arr, entries = arr[:n], entries[:n]
    arr = ak.with_field(arr, entries, "entry")
    return arr


def _features(arr, parts, recompute: bool) -> dict:
    """High-level features; from the stored branches unless ``recompute`` (detector level)."""
    import awkward as ak

    from ..physics.jets import jet_four_vector, tau_n

    if recompute:
        pt, eta, phi, m = jet_four_vector(parts.pt, parts.eta, parts.phi, parts.e)
        taus = tau_n(parts.pt, parts.eta, parts.phi, parts.e, 3)
        n_part = ak.to_numpy(ak.num(parts.pt, axis=1))
    else:
        pt, eta, phi, m = (ak.to_numpy(arr[f"jet_{v}"]).astype(np.float64) for v in ("pt", "eta", "phi", "m"))
        taus = np.stack([ak.to_numpy(arr[f"jet_tau{i}"]) for i in (1, 2, 3)], axis=1).astype(np.float64)
        n_part = ak.to_numpy(arr.jet_nparticles)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau21 = np.where(taus[:, 0] > 0, taus[:, 1] / taus[:, 0], 0.0)
        tau32 = np.where(taus[:, 1] > 0, taus[:, 2] / taus[:, 1], 0.0)
    return {"pt": pt, "eta": eta, "phi": phi, "m": m, "n_particles": n_part.astype(np.float64),
            "tau1": taus[:, 0], "tau2": taus[:, 1], "tau3": taus[:, 2], "tau21": tau21, "tau32": tau32}


_DERIVED_FROM = {"deta": ("eta",), "dphi": ("phi",), "dr": ("eta", "phi"), "log_pt": ("pt",), "log_e": ("e",),
                 "pt_rel": ("pt",), "e_rel": ("e",)}
"""The stored constituent fields that each derived one of :func:`_particle_columns` is computed from."""


def _stored_sources(fields) -> tuple[str, ...]:
    """The stored constituent fields that ``fields`` need, in order, each once: ("deta", "pt") → ("eta", "pt")."""
    return tuple(dict.fromkeys(s for f in fields for s in _DERIVED_FROM.get(f, (f,))))


def _particle_columns(parts, feats: dict, fields) -> dict:
    import awkward as ak

    from ..physics.jets import delta_phi

    out = {}
    for f in fields:
        if f in STORED_PARTICLE_FIELDS or f == "jet":
            out[f] = parts[f]
        elif f == "deta":
            out[f] = parts.eta - feats["eta"]
        elif f == "dphi":
            out[f] = delta_phi(parts.phi, feats["phi"])
        elif f == "dr":
            out[f] = np.hypot(parts.eta - feats["eta"], delta_phi(parts.phi, feats["phi"]))
        elif f == "log_pt":
            out[f] = np.log(parts.pt)
        elif f == "log_e":
            out[f] = np.log(parts.e)
        elif f == "pt_rel":
            out[f] = parts.pt / feats["pt"]
        elif f == "e_rel":
            out[f] = parts.e / ak.sum(parts.e, axis=1)
        else:
            raise ValueError(f"unknown particle field {f!r}; choose from {', '.join(PARTICLE_FIELDS)}")
    return out


_OPTIONS = {
    # kind: (its features, the particle fields it can put in the tensor, whether the toy detector applies)
    "jets": (FEATURES, PARTICLE_FIELDS, True),
    "events": (EVENT_SHAPES, STORED_PARTICLE_FIELDS, False),
    "dijets": (DIJET_FEATURES, STORED_PARTICLE_FIELDS + ("jet",), False),
}


def _check_options(spec: DatasetSpec, split: str, format: str, detector: bool, particle_fields, features) -> tuple:
    """Refuse what data set ``spec`` does not support, with a clear error; return the features to use."""
    if format not in ("awkward", "numpy", "torch"):
        raise ValueError(f"format must be 'awkward', 'numpy' or 'torch'; got {format!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    own_features, own_fields, has_detector = _OPTIONS[spec.kind]
    if detector and not has_detector:
        raise ValueError(f"detector=True: the toy detector is applied to single jets (jets-top-qcd); {spec.name} "
                         "has no detector-level version")
    bad = [f for f in particle_fields if f not in own_fields]
    if bad:
        raise ValueError(f"particle_fields {bad} are not available for {spec.name}; choose from {', '.join(own_fields)}")
    features = own_features if features is None else tuple(features)
    bad = [f for f in features if f not in own_features]
    if bad:
        raise ValueError(f"features {bad} are not features of {spec.name}; choose from {', '.join(own_features)}")
    return features


def _checked_path(spec: DatasetSpec, path: Path | None, verify: bool) -> Path:
    """The file to read: ``data/<file>`` checked against the MANIFEST (unless ``verify`` is false), or
    ``path`` (checked only when it lies in data/)."""
    from .manifest import DataFileError
    from .manifest import verify as verify_file

    in_data = path is None or Path(path).resolve().parent == config.DATA_DIR.resolve()
    path = Path(path) if path else data_path(spec.name)
    command = f"hepcourse data make {spec.name} --events {spec.default_events}"
    if verify and in_data:
        verify_file(path, rebuild=None if path.exists() else command)
    elif not path.exists():
        raise DataFileError(f"data file {path} is missing. Rebuild it with:\n    {command}")
    return path


def _branches(path: Path, tree: str, parts: tuple[str, ...] | None) -> list[str] | None:
    """The branches of ``tree`` to read: all (``parts`` None), or the jet-level ones and the constituent fields
    ``parts`` (``()``: none). A file's constituent branches are LZMA-compressed and decompressing them is most of
    the time a read takes: 5000 jets with pt, eta, phi only take 1.1 s instead of 1.5 s (one core)."""
    return None if parts is None else io.jet_fields(path, tree) + [f"part_{f}" for f in parts]


def _read_jets(spec, path, split, n, strict, parts, detector, detector_seed):
    """``kind="jets"``: both processes' jets and their high-level features (recomputed at detector level)."""
    import awkward as ak

    from . import detector as det

    pieces = []
    for process in spec.processes:
        arr = _read_split(path, process.name, split, n, strict=strict, fields=_branches(path, process.name, parts))
        arr = ak.with_field(arr, process.name, "tree")
        if detector:
            keys = det.event_keys(process.name, ak.to_numpy(arr.entry))
            arr = ak.with_field(arr, det.apply(arr.part, keys, seed=detector_seed), "part")
        pieces.append(arr)
    arr = ak.concatenate(pieces)
    # the stored constituents may have been capped: recompute only at detector level
    feats = _features(arr, arr.part if detector else None, recompute=detector)
    for k in FEATURES:
        arr = ak.with_field(arr, feats[k], k)
    return arr, feats


def _read_events(spec, path, split, n, strict, parts, detector, detector_seed):
    """``kind="events"``: whole events (one tree) and their event shapes."""
    import awkward as ak

    tree = spec.processes[0].name
    arr = _read_split(path, tree, split, n, strict=strict, fields=_branches(path, tree, parts))
    return arr, {k: ak.to_numpy(arr[k]) for k in EVENT_SHAPES}


def _read_dijets(spec, path, split, n, strict, parts, detector, detector_seed):
    """``kind="dijets"``: both processes' events, with τ_21, τ_32 of both jets and their |Δη| added."""
    import awkward as ak

    pieces = []
    for process in spec.processes:
        arr = _read_split(path, process.name, split, n, strict=strict, fields=_branches(path, process.name, parts))
        pieces.append(ak.with_field(arr, process.name, "tree"))
    arr = ak.concatenate(pieces)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in ("j1", "j2"):
            t1, t2, t3 = (ak.to_numpy(arr[f"{j}_tau{i}"]).astype(np.float64) for i in (1, 2, 3))
            arr = ak.with_field(arr, np.where(t1 > 0, t2 / t1, 0.0), f"{j}_tau21")
            arr = ak.with_field(arr, np.where(t2 > 0, t3 / t2, 0.0), f"{j}_tau32")
    arr = ak.with_field(arr, np.abs(ak.to_numpy(arr.j1_eta) - ak.to_numpy(arr.j2_eta)), "deta")
    return arr, {k: ak.to_numpy(arr[k]) for k in DIJET_FEATURES}


_READERS = {"jets": _read_jets, "events": _read_events, "dijets": _read_dijets}


def _jet_tensors(arr, feats: dict, features: tuple, particle_fields: tuple, max_particles: int, jet_level: bool,
                 meta: dict) -> JetTensors:
    """The padded arrays of every kind of data set: constituents (or none at jet level), features, labels."""
    import awkward as ak

    if jet_level:
        particles = np.zeros((len(arr), 0, len(particle_fields)), np.float32)
        mask = np.zeros((len(arr), 0), bool)
    else:
        particles, mask = pad(ak.zip(_particle_columns(arr.part, feats, particle_fields)), max_particles)
    labels = ak.to_numpy(arr.label).astype(np.int64) if "label" in arr.fields else np.zeros(len(arr), np.int64)
    meta = {**meta, "entry": ak.to_numpy(arr.entry)}
    if "tree" in arr.fields:
        meta["tree"] = ak.to_list(arr.tree)
    return JetTensors(particles=particles, mask=mask,
                      features=np.stack([np.asarray(feats[k]).astype(np.float32) for k in features], axis=1),
                      labels=labels, particle_fields=tuple(particle_fields), feature_names=tuple(features), meta=meta)


def load(name: str = "jets-top-qcd", split: str = "train", n: int | None = None, format: str = "awkward",
         detector: bool = False, detector_seed: int = 0, max_particles: int = 128,
         particle_fields: tuple[str, ...] = STORED_PARTICLE_FIELDS, features: tuple[str, ...] | None = None,
         path: Path | None = None, verify: bool = True, shuffle: bool = True):
    """Load a split of a course data set.

    Parameters
    ----------
    name : a data set of :data:`hepcourse.data.registry.DATASETS` (``"jets-top-qcd"``; ``"ee-z-hadrons"``:
        whole events, whose features are :data:`EVENT_SHAPES`; ``"dijet-resonance"``: events with two jets,
        :data:`DIJET_FEATURES`).
    split : ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (see the module docstring).
    n : jets per class (events for ``ee-z-hadrons``); ``None`` means all of them, or
        :data:`QUICK_JETS` in quick mode.
    format : ``"awkward"``, ``"numpy"`` or ``"torch"``.
    detector : apply the toy detector (:mod:`hepcourse.data.detector`) with ``detector_seed`` (jets only).
    max_particles, particle_fields : size and content of the padded constituent tensor (for dijets the
        field ``jet`` is always added); ``max_particles=0`` reads the jet-level branches only (features
        and labels; much faster).
    features : the high-level features to return (default: all of the data set's, e.g. :data:`FEATURES`).
    path : read this file instead of ``data/<file>`` (no MANIFEST check unless it is in data/).
    verify : check the file's sha256 against ``data/MANIFEST`` first (a mismatch raises
        :class:`hepcourse.data.manifest.DataFileError`, naming the command that rebuilds it).
    shuffle : interleave the classes in a fixed pseudo-random order (else signal first).

    An option the data set does not support (the toy detector on whole events, a derived particle field
    or an unknown feature) raises ``ValueError`` naming what it supports.
    """
    import awkward as ak

    spec = dataset(name)
    if spec.kind == "dijets" and "jet" not in particle_fields:
        particle_fields = tuple(particle_fields) + ("jet",)
    features = _check_options(spec, split, format, detector, particle_fields, features)
    path = _checked_path(spec, path, verify)
    strict = n is not None
    if n is None and config.QUICK:
        n = QUICK_JETS
    jet_level = max_particles == 0 and not detector          # no constituents to read: several times faster
    # the constituent branches to read: none at jet level; all for the awkward array and the toy detector (which
    # needs e, charge and pid); else the stored fields that particle_fields are made of
    parts = () if jet_level else None if format == "awkward" or detector else _stored_sources(particle_fields)
    arr, feats = _READERS[spec.kind](spec, path, split, n, strict, parts, detector, detector_seed)
    if shuffle:
        order = shuffled_order(name, split, len(arr))
        arr, feats = arr[order], {k: np.asarray(v)[order] for k, v in feats.items()}
    arr = ak.with_field(arr, split, "split")
    if format == "awkward":
        return arr
    tensors = _jet_tensors(arr, feats, features, particle_fields, max_particles, jet_level,
                           {"name": name, "split": split, "detector": detector, "path": str(path)})
    return tensors.to_torch() if format == "torch" else tensors
