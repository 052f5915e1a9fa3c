"""Collider kinematics and jet observables: ΔR, four-vectors, jet mass, N-subjettiness.

Conventions (the course's notation page): momenta in GeV, the beam along z, the transverse
momentum :math:`p_T = \\sqrt{p_x^2 + p_y^2}`, the pseudorapidity
:math:`\\eta = -\\ln\\tan(\\theta/2) = \\operatorname{arsinh}(p_z/p_T)`, the rapidity
:math:`y = \\tfrac12\\ln\\frac{E+p_z}{E-p_z}` and the azimuth :math:`\\phi \\in (-\\pi, \\pi]` (NumPy's ``arctan2``).

Every function takes NumPy arrays (and, where it says so, awkward arrays of jagged constituents)
and broadcasts like NumPy.

Sources: G. P. Salam, *Towards jetography*, Eur. Phys. J. C 67 (2010) 637 [arXiv:0906.1833] for
the kinematics and jet algorithms; J. Thaler and K. Van Tilburg, *Identifying boosted objects
with N-subjettiness*, JHEP 03 (2011) 015 [arXiv:1011.2268] for τ_N; Plehn et al. [plehn2022modern], Eq. (2.16);
F. A. Dreyer, G. P. Salam and G. Soyez, *The Lund jet plane*, JHEP 12 (2018) 064 [arXiv:1807.04758] [dreyer2018lund]
for the primary Lund declusterings.
"""

from __future__ import annotations

import numpy as np

__all__ = ["delta_phi", "delta_r", "to_cartesian", "to_collider", "pt_eta_phi", "rapidity", "invariant_mass",
           "jet_four_vector", "awkward_four_vectors", "kt_axes", "nsubjettiness", "tau_n", "TAU_R0", "quiet_fastjet",
           "LUND_R", "primary_lund", "lund_coordinates", "lund_histogram"]

TAU_R0 = 0.8
"""Characteristic radius :math:`R_0` of the N-subjettiness normalisation (the jet radius)."""


def delta_phi(phi1, phi2):
    """Azimuthal difference wrapped into :math:`[-\\pi, \\pi)`:

    .. math:: \\Delta\\phi = \\big((\\phi_1 - \\phi_2 + \\pi) \\bmod 2\\pi\\big) - \\pi .

    Without the wrap, two particles at φ = 3.1 and φ = −3.1 would be 6.2 apart instead of 0.083.
    """
    return np.mod(_arr(phi1) - _arr(phi2) + np.pi, 2 * np.pi) - np.pi


def delta_r(eta1, phi1, eta2, phi2):
    """Angular distance :math:`\\Delta R = \\sqrt{\\Delta\\eta^2 + \\Delta\\phi^2}` with φ wrapped
    (:func:`delta_phi`). Pass rapidities instead of pseudorapidities for the rapidity–azimuth
    distance that FastJet uses; for massless particles the two agree."""
    return np.hypot(_arr(eta1) - _arr(eta2), delta_phi(phi1, phi2))


def to_cartesian(pt, eta, phi, e=None, m=None):
    """:math:`(p_T, \\eta, \\phi)` and the energy (or the mass) to :math:`(p_x, p_y, p_z, E)`:

    .. math:: p_x = p_T\\cos\\phi,\\quad p_y = p_T\\sin\\phi,\\quad p_z = p_T\\sinh\\eta,\\quad
              E = \\sqrt{p_T^2\\cosh^2\\eta + m^2}.

    Give ``e`` (the stored energy) or ``m`` (default 0: massless).
    """
    pt, eta, phi = np.asarray(pt, dtype=float), np.asarray(eta, dtype=float), np.asarray(phi, dtype=float)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    if e is None:
        m = 0.0 if m is None else np.asarray(m, dtype=float)
        e = np.sqrt((pt * np.cosh(eta)) ** 2 + m ** 2)
    return px, py, pz, np.asarray(e, dtype=float)


def pt_eta_phi(px, py, pz):
    """:math:`(p_x, p_y, p_z)` to :math:`(p_T, \\eta, \\phi)`: :math:`p_T = \\sqrt{p_x^2 + p_y^2}`,
    :math:`\\eta = \\operatorname{arsinh}(p_z/p_T)`, :math:`\\phi = \\operatorname{atan2}(p_y, p_x)`;
    η = ±∞ along the beam (:math:`p_T = 0`)."""
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.where(pt > 0, pz / pt, np.sign(pz) * np.inf))
    return pt, eta, np.arctan2(py, px)


def to_collider(px, py, pz, e):
    """:math:`(p_x, p_y, p_z, E)` to :math:`(p_T, \\eta, \\phi, m)`, with
    :math:`m = \\sqrt{\\max(E^2 - |\\vec p|^2, 0)}` (rounding can make :math:`E^2 - p^2` slightly
    negative for massless sums). A particle along the beam (:math:`p_T = 0`) gets η = ±∞."""
    px, py, pz, e = (np.asarray(a, dtype=float) for a in (px, py, pz, e))
    return (*pt_eta_phi(px, py, pz), invariant_mass(px, py, pz, e))


def rapidity(pz, e):
    """Rapidity :math:`y = \\tfrac12 \\ln\\frac{E + p_z}{E - p_z}`."""
    pz, e = np.asarray(pz, dtype=float), np.asarray(e, dtype=float)
    return 0.5 * np.log((e + pz) / (e - pz))


def invariant_mass(px, py, pz, e):
    """:math:`m = \\sqrt{E^2 - p_x^2 - p_y^2 - p_z^2}`, clipped at 0 (see :func:`to_collider`)."""
    m2 = np.asarray(e, dtype=float) ** 2 - np.asarray(px, dtype=float) ** 2 - np.asarray(py, dtype=float) ** 2 \
        - np.asarray(pz, dtype=float) ** 2
    return np.sqrt(np.maximum(m2, 0.0))


def jet_four_vector(pt, eta, phi, e, mask=None, axis=-1):
    """The jet as the sum of its constituents (the E-scheme of FastJet):
    :math:`p^\\mu_\\text{jet} = \\sum_i p^\\mu_i`. Returns ``(pt, eta, phi, m)``.

    The inputs are padded arrays of shape ``(..., n_constituents)`` (with ``mask`` marking the real
    entries) or awkward arrays of jagged constituents (``mask`` = None)."""
    px, py, pz, e = _cartesian_any(pt, eta, phi, e)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        px, py, pz, e = (np.where(mask, a, 0.0) for a in (px, py, pz, e))
    sums = [_sum(a, axis) for a in (px, py, pz, e)]
    return to_collider(*sums)


def _cartesian_any(pt, eta, phi, e):
    """(p_x, p_y, p_z, E) of NumPy arrays (:func:`to_cartesian`) or of jagged awkward arrays, the latter
    through the ``vector`` library's awkward backend (float64)."""
    if _is_awkward(pt):
        v = awkward_four_vectors(pt, eta, phi, e)
        return v.px, v.py, v.pz, v.E
    return to_cartesian(pt, eta, phi, e)


def awkward_four_vectors(pt, eta, phi, e):
    """Jagged constituents (awkward arrays of p_T, η, φ, E in GeV) as ``vector`` Lorentz vectors in float64
    (``.px``, ``.rapidity``, ``.mass``, sums with ``ak.sum(..., axis=1)``)."""
    import awkward as ak
    import vector

    return vector.zip({"pt": ak.values_astype(pt, np.float64), "eta": ak.values_astype(eta, np.float64),
                       "phi": ak.values_astype(phi, np.float64), "energy": ak.values_astype(e, np.float64)})


def _sum(a, axis):
    if _is_awkward(a):
        import awkward as ak

        return ak.to_numpy(ak.sum(a, axis=axis))
    return np.sum(a, axis=axis)


def _is_awkward(a) -> bool:
    return type(a).__module__.startswith("awkward")


def _arr(a):
    """NumPy array of ``a``, unless it is an awkward array (jagged: kept as it is)."""
    return a if _is_awkward(a) else np.asarray(a)


def kt_axes(px, py, pz, e, n: int):
    """The N-subjettiness axes of Thaler and Van Tilburg: recluster each jet's constituents with
    the exclusive :math:`k_T` algorithm (FastJet) and stop when ``n`` subjets are left; the
    subjets' four-momenta (E-scheme) are the axes.

    The inputs are awkward arrays of jagged constituents ``(n_jets, var)``. The radius of the
    reclustering is large (R = 10), so that no constituent is merged with the beam: this is what
    ``exclusive_subjets`` of a jet does. A jet with fewer than ``n`` constituents gets one axis per
    constituent. Returns an awkward array ``(n_jets, ≤ n)`` of records ``px, py, pz, E``.
    """
    import awkward as ak
    import fastjet

    particles = ak.zip({"px": ak.values_astype(px, np.float64), "py": ak.values_astype(py, np.float64),
                        "pz": ak.values_astype(pz, np.float64), "E": ak.values_astype(e, np.float64)})
    quiet_fastjet()
    cluster = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.kt_algorithm, 10.0))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        axes = cluster.exclusive_jets_up_to(n)
    return ak.zip({"px": axes.px, "py": axes.py, "pz": axes.pz, "E": axes.E})


def nsubjettiness(pt, y, phi, axes_y, axes_phi, beta: float = 1.0, r0: float = TAU_R0):
    """N-subjettiness of one jet (Plehn et al. [plehn2022modern], Eq. 2.16; Thaler and Van Tilburg, Eq. 2):

    .. math:: \\tau_N = \\frac{1}{\\sum_k p_{T,k} R_0^\\beta}\\,
              \\sum_k p_{T,k} \\min\\big(\\Delta R_{1,k}, \\dots, \\Delta R_{N,k}\\big)^\\beta ,

    with :math:`\\Delta R_{j,k}` the rapidity–azimuth distance between constituent k and axis j.
    ``pt, y, phi`` are the constituents (1D arrays), ``axes_y, axes_phi`` the N axes. τ_N is 0
    when every constituent sits on an axis, and small when the jet has N or fewer prongs.
    """
    pt = np.asarray(pt, dtype=float)
    dr = delta_r(np.asarray(y)[:, None], np.asarray(phi)[:, None],
                 np.asarray(axes_y)[None, :], np.asarray(axes_phi)[None, :])
    return float(np.sum(pt * dr.min(axis=1) ** beta) / (np.sum(pt) * r0 ** beta))


def tau_n(pt, eta, phi, e, n_max: int = 3, beta: float = 1.0, r0: float = TAU_R0) -> np.ndarray:
    """:math:`\\tau_1, \\dots, \\tau_{n_\\text{max}}` of many jets at once: FastJet contrib's
    N-subjettiness (``ClusterSequence.njettiness`` with exclusive-:math:`k_T` axes, the normalised measure of
    :func:`nsubjettiness` with β and R_0), the library the data sets are made with.

    The inputs are awkward arrays of jagged constituents (GeV, pseudorapidity, azimuth, energy).
    Returns an array of shape ``(n_jets, n_max)``; τ_N = 0 for a jet with at most N constituents.
    The ratios :math:`\\tau_{21} = \\tau_2/\\tau_1` (two prongs: W, Z, H) and
    :math:`\\tau_{32} = \\tau_3/\\tau_2` (three prongs: top) are the classic substructure taggers.
    :func:`nsubjettiness` is the same formula written out for one jet (``tests/test_physics_jets.py``
    checks that the two agree).
    """
    import awkward as ak
    import fastjet

    n_jets = len(pt)
    out = np.zeros((n_jets, n_max))
    if n_jets == 0:
        return out
    v = awkward_four_vectors(pt, eta, phi, e)
    particles = ak.zip({"px": v.px, "py": v.py, "pz": v.pz, "E": v.E}, with_name=None)
    quiet_fastjet()
    # one anti-kT jet of radius 10 per row holds all of the row's constituents (they lie within ΔR ~ 1)
    cluster = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, 10.0))
    n_const = ak.to_numpy(ak.num(v, axis=1))
    for n in range(1, n_max + 1):
        tau = cluster.njettiness(axes_definition="KT_Axes", njets=n, R0=r0, beta=beta)   # (n_jets, 1 jet)
        tau = ak.to_numpy(ak.fill_none(ak.firsts(tau, axis=1), 0.0))
        out[:, n - 1] = np.where(n_const > n, tau, 0.0)
    return out


LUND_R = 0.8
"""The jet radius R of the Lund coordinate ln(R/Δ) (the data sets' anti-kT jets have R = 0.8)."""


def primary_lund(pt, eta, phi, e):
    """Primary Lund declusterings of many jets (Dreyer, Salam and Soyez 2018), with FastJet.

    Each jet's constituents (awkward arrays: GeV, pseudorapidity, azimuth, energy) are reclustered into one
    Cambridge/Aachen jet (angular ordering); then the clustering is undone from the last merging on, always
    following the harder branch. At each declustering into a harder branch a and a softer branch b,

        Δ = ΔR_ab = √(Δy² + Δφ²),   k_t = p_T,b Δ,

    (FastJet's ``exclusive_jets_lund_declusterings``). Returns ``(delta, kt)``, two awkward arrays of shape
    (n_jets, var), the widest-angle declustering first. ``tests/test_physics_jets.py`` checks a three-particle
    jet worked out by hand.
    """
    import awkward as ak
    import fastjet

    v = awkward_four_vectors(pt, eta, phi, e)
    particles = ak.zip({"px": v.px, "py": v.py, "pz": v.pz, "E": v.E}, with_name=None)
    quiet_fastjet()
    # one C/A jet of radius 10 per row holds all of the row's constituents (they lie within ΔR ~ 1)
    cluster = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    steps = cluster.exclusive_jets_lund_declusterings(1)[:, 0]            # (n_jets, var) of {Delta, kt}
    return steps["Delta"], steps["kt"]


def lund_coordinates(delta, kt, r: float = LUND_R):
    """The primary Lund plane's coordinates (ln(R/Δ), ln k_t) of :func:`primary_lund`'s output (k_t in GeV).
    Works on NumPy or awkward arrays alike."""
    return np.log(r / delta), np.log(kt)


def lund_histogram(delta, kt, bins, r: float = LUND_R):
    """The primary Lund-plane density of a sample of jets: emissions per jet per unit area of the
    (ln(R/Δ), ln k_t) plane, ``(density (nx, ny), x_edges, y_edges)`` for ``bins = (x_edges, y_edges)``.
    In the soft-collinear limit at fixed coupling it is flat, ρ ≈ 2 α_s C_R / π (Dreyer et al., Sec. 2)."""
    import awkward as ak

    n_jets = len(delta)
    lx, ly = lund_coordinates(np.asarray(ak.flatten(delta)), np.asarray(ak.flatten(kt)), r)
    counts, xe, ye = np.histogram2d(lx, ly, bins=bins)
    area = np.outer(np.diff(xe), np.diff(ye))
    return counts / (max(n_jets, 1) * area), xe, ye


_FASTJET_QUIET = False


def quiet_fastjet() -> None:
    """FastJet prints its banner on the first clustering; call this first to print it into the void."""
    global _FASTJET_QUIET
    if _FASTJET_QUIET:
        return
    import os
    import sys

    import fastjet

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        fastjet.ClusterSequence([fastjet.PseudoJet(1.0, 0.0, 0.0, 1.0)],
                                fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)).inclusive_jets()
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)
    _FASTJET_QUIET = True
