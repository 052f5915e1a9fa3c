"""A toy detector, applied when the data are read (``load(..., detector=True)``).

The committed files hold stable particles as Pythia makes them. Real taggers see a detector: a
tracker that measures charged particles (not all of them, and with a momentum resolution that
worsens with pT), calorimeters that measure the energy of neutral particles with a resolution
that improves with E, in cells of finite size. :class:`ToyDetector` models exactly these effects
and nothing else (no material, no pile-up, no fake tracks); it is a teaching device in the spirit
of a particle-flow reconstruction, not a simulation of ATLAS or CMS.

What happens to each stable particle of a jet:

=======================  ===================================================================
particle                 response
=======================  ===================================================================
charged (e, μ, hadrons)  a **track** with probability ``track_efficiency`` if
                         :math:`p_T >` ``track_pt_min`` and :math:`|\\eta| <` ``tracker_eta``;
                         curvature smeared (below); direction exact. Tracked particles leave
                         no calorimeter energy (particle flow removes it).
charged, not tracked     e → ECAL deposit; μ → lost (a minimum-ionising particle);
                         hadrons → HCAL deposit if they reach the calorimeter
                         (:math:`p_T > 0.3 B R_\\text{cal}/2`), else lost
photon                   ECAL deposit
neutral hadron           HCAL deposit (n, K_L, and, for simplicity, K_S and Λ)
=======================  ===================================================================

**Tracks.** The transverse momentum follows from the sagitta of the track, and the sagitta
resolution :math:`\\sigma_s` gives the curvature resolution (Gluckstern; PDG review
"Passage of particles through matter"; the applications text on generative surrogates
[apps_b_surrogates], item B7):

.. math:: s = \\frac{0.3\\,B\\,L^2}{8\\,p_T}, \\qquad
          \\sigma\\!\\left(\\frac{1}{p_T}\\right) = \\frac{8\\,\\sigma_s}{0.3\\,B\\,L^2} \\equiv a ,

(B in T, L in m, :math:`p_T` in GeV), so :math:`\\sigma_{p_T}/p_T = a\\,p_T` grows linearly with
:math:`p_T`; a multiple-scattering term ``track_ms`` adds in quadrature. With the defaults
(B = 3.8 T, L = 1.1 m, :math:`\\sigma_s` = 20 µm) :math:`a = 1.2\\times10^{-4}`/GeV:
1.2% at 100 GeV, 6% at 500 GeV.

**Calorimeter deposits** are smeared per particle,
:math:`\\sigma_E/E = s/\\sqrt{E/\\text{GeV}} \\oplus c` (ECAL: s = 10%, c = 1%;
HCAL: s = 50%, c = 5%), then summed in η–φ cells (ECAL 0.025 × 2π/256, HCAL 0.1 × 2π/64);
a cell with less than its threshold (0.2 GeV ECAL, 0.5 GeV HCAL) is dropped. A cell becomes a
massless candidate at the cell centre with charge 0 and ``pid`` 22 (ECAL) or 130 (HCAL).
Tracks keep their charge, with ``pid`` ±11, ±13 (leptons are identified) or ±211 (every charged
hadron is called a pion).

**Random numbers per event.** The smearing of jet *i* of tree *t* uses counter-based random
numbers (a SplitMix64 hash of the seed, the jet's key and the particle's index, in the spirit of
Random123), so a jet is smeared the same way whichever subset of the file is read, in whatever
order, with however many processes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["ToyDetector", "DEFAULT", "apply", "event_keys", "uniform", "normal"]

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit hash with good mixing."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed: int, stream: int, keys, index) -> np.ndarray:
    """Uniform numbers in (0, 1), a pure function of (seed, stream, key, index) (vectorised)."""
    keys = np.asarray(keys, dtype=np.uint64)
    index = np.asarray(index, dtype=np.uint64)
    base = _splitmix64(np.array([(int(seed) << 8) ^ int(stream)], dtype=np.uint64))
    h = _splitmix64(_splitmix64(base ^ keys) ^ index)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def normal(seed: int, stream: int, keys, index) -> np.ndarray:
    """Standard normal numbers (Box–Muller on two counter-based uniforms)."""
    u1 = uniform(seed, 2 * stream, keys, index)
    u2 = uniform(seed, 2 * stream + 1, keys, index)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def event_keys(tree: str, entries) -> np.ndarray:
    """64-bit key of each jet: the CRC-32 of the tree name and the jet's entry number in it."""
    return (np.uint64(zlib.crc32(tree.encode())) << np.uint64(32)) | np.asarray(entries, dtype=np.uint64)


@dataclass(frozen=True)
class ToyDetector:
    """Parameters of the toy detector (see the module docstring). Units: GeV, T, m."""

    b_field: float = 3.8
    lever_arm: float = 1.1
    sigma_sagitta: float = 20e-6
    track_ms: float = 0.005
    track_efficiency: float = 0.9
    track_pt_min: float = 0.4
    tracker_eta: float = 2.5
    calo_radius: float = 1.3
    calo_eta: float = 4.9
    ecal_stochastic: float = 0.10
    ecal_constant: float = 0.01
    hcal_stochastic: float = 0.50
    hcal_constant: float = 0.05
    ecal_deta: float = 0.025
    ecal_nphi: int = 256
    hcal_deta: float = 0.1
    hcal_nphi: int = 64
    ecal_threshold: float = 0.2
    hcal_threshold: float = 0.5

    @property
    def curvature_resolution(self) -> float:
        """:math:`a = 8\\sigma_s/(0.3 B L^2)` in 1/GeV: :math:`\\sigma_{p_T}/p_T = a\\,p_T`."""
        return 8 * self.sigma_sagitta / (0.3 * self.b_field * self.lever_arm ** 2)

    @property
    def pt_reach_calorimeter(self) -> float:
        """Charged particles with :math:`p_T < 0.3 B R_\\text{cal}/2` curl up before the calorimeter."""
        return 0.3 * self.b_field * self.calo_radius / 2


DEFAULT = ToyDetector()

# random streams
_EFF, _TRACK, _MS, _CALO = 1, 2, 3, 4


def apply(parts, keys, seed: int = 0, detector: ToyDetector = DEFAULT):
    """Reconstructed candidates of each jet.

    ``parts``: awkward jagged records with ``pt, eta, phi, e, charge, pid`` (GeV) — the particles
    of each jet; ``keys``: one 64-bit key per jet (:func:`event_keys`). Returns jagged records
    with the same fields, sorted by decreasing pT within each jet: the tracks (:func:`_tracks`) and the
    calorimeter cells (:func:`_cells`) of the particles that :func:`_route` sends to each subdetector.
    """
    import awkward as ak

    n_jets = len(parts)
    counts = ak.to_numpy(ak.num(parts.pt, axis=1))
    flat = {f: ak.to_numpy(ak.flatten(parts[f])) for f in ("pt", "eta", "phi", "e", "charge", "pid")}
    p = {f: flat[f].astype(np.float64) for f in ("pt", "eta", "phi", "e")}
    p.update(charge=flat["charge"].astype(np.int64), pid=flat["pid"].astype(np.int64))
    row = np.repeat(np.arange(n_jets), counts)                        # the jet of each particle
    local = (np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.uint64)
    key = np.asarray(keys, dtype=np.uint64)[row]                       # (jet key, particle index): its random numbers

    tracked, to_ecal, to_hcal = _route(p, uniform(seed, _EFF, key, local), detector)
    candidates = [(row[tracked], *_tracks(p, tracked, seed, key, local, detector))]
    for calo, mask in ((0, to_ecal), (1, to_hcal)):
        candidates.append(_cells(p, mask, row, calo, seed, key, local, detector))
    return _jagged_candidates(candidates, n_jets)


def _route(p: dict, u_eff: np.ndarray, d: ToyDetector) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each particle is seen: ``(tracked, to_ecal, to_hcal)`` boolean masks (see the module docstring);
    ``u_eff`` are its uniform random numbers for the tracking efficiency."""
    apid = np.abs(p["pid"])
    charged = p["charge"] != 0
    trackable = charged & (p["pt"] > d.track_pt_min) & (np.abs(p["eta"]) < d.tracker_eta)
    tracked = trackable & (u_eff < d.track_efficiency)
    to_ecal = ~tracked & ((p["pid"] == 22) | (apid == 11))
    to_hcal = ~tracked & ~to_ecal & (apid != 13) & (~charged | (p["pt"] > d.pt_reach_calorimeter))
    inside = np.abs(p["eta"]) < d.calo_eta
    return tracked, to_ecal & inside, to_hcal & inside


def _tracks(p: dict, tracked: np.ndarray, seed: int, key, local, d: ToyDetector) -> tuple:
    """``(pt, eta, phi, e, charge, pid)`` of the tracks: the curvature 1/p_T smeared by the sagitta term and
    a multiple-scattering term, the direction exact, the mass kept; leptons identified, hadrons called pions."""
    eta = p["eta"][tracked]
    t_pt = p["pt"][tracked]
    kappa = 1.0 / t_pt
    kappa = kappa * (1.0 + d.track_ms * normal(seed, _MS, key[tracked], local[tracked])) \
        + d.curvature_resolution * normal(seed, _TRACK, key[tracked], local[tracked])
    t_pt_new = 1.0 / np.abs(kappa)
    t_m2 = np.maximum(p["e"][tracked] ** 2 - (t_pt * np.cosh(eta)) ** 2, 0.0)
    t_e = np.sqrt((t_pt_new * np.cosh(eta)) ** 2 + t_m2)
    t_charge = p["charge"][tracked]
    apid = np.abs(p["pid"][tracked])
    t_pid = np.where(apid == 11, -11 * t_charge, np.where(apid == 13, -13 * t_charge, 211 * t_charge))
    return t_pt_new, eta, p["phi"][tracked], t_e, t_charge, t_pid


def _cells(p: dict, mask: np.ndarray, row: np.ndarray, calo: int, seed: int, key, local, d: ToyDetector) -> tuple:
    """``(jet, pt, eta, phi, e, charge, pid)`` of the cells of calorimeter ``calo`` (0 ECAL, 1 HCAL): each
    deposit smeared, summed in η–φ cells, cells below threshold dropped, one massless candidate per cell."""
    stoch, const, deta, nphi, thr, cpid = ((d.ecal_stochastic, d.ecal_constant, d.ecal_deta, d.ecal_nphi,
                                            d.ecal_threshold, 22) if calo == 0 else
                                           (d.hcal_stochastic, d.hcal_constant, d.hcal_deta, d.hcal_nphi,
                                            d.hcal_threshold, 130))
    ee = p["e"][mask]
    sigma = np.hypot(stoch / np.sqrt(np.maximum(ee, 1e-9)), const)
    ee = np.maximum(ee * (1.0 + sigma * normal(seed, _CALO + calo, key[mask], local[mask])), 0.0)
    ieta = np.floor((p["eta"][mask] + d.calo_eta) / deta).astype(np.int64)
    dphi = 2 * np.pi / nphi
    iphi = np.floor(np.mod(p["phi"][mask] + np.pi, 2 * np.pi) / dphi).astype(np.int64) % nphi
    cell_id = (row[mask].astype(np.int64) * 4096 + ieta) * 4096 + iphi
    uniq, inverse = np.unique(cell_id, return_inverse=True)
    energy = np.bincount(inverse, weights=ee, minlength=len(uniq))
    keep = energy > thr
    uniq, energy = uniq[keep], energy[keep]
    c_eta = -d.calo_eta + ((uniq // 4096) % 4096 + 0.5) * deta
    c_phi = ((uniq % 4096) + 0.5) * dphi - np.pi
    return (uniq // (4096 * 4096), energy / np.cosh(c_eta), c_eta, c_phi, energy,
            np.zeros(len(uniq), np.int64), np.full(len(uniq), cpid, np.int64))


def _jagged_candidates(candidates: list[tuple], n_jets: int):
    """Tracks and cells (each ``(jet, pt, eta, phi, e, charge, pid)``) as jagged records per jet, sorted by
    decreasing p_T within each jet."""
    import awkward as ak

    rows = np.concatenate([c[0] for c in candidates])
    cols = [np.concatenate([c[i] for c in candidates]) for i in range(1, 7)]
    order = np.lexsort((-cols[0], rows))
    new_counts = np.bincount(rows[order], minlength=n_jets)
    names = ("pt", "eta", "phi", "e", "charge", "pid")
    dtypes = (np.float32, np.float32, np.float32, np.float32, np.int8, np.int32)
    return ak.zip({name: ak.unflatten(col[order].astype(dt), new_counts) for name, col, dt in zip(names, cols, dtypes)})
