"""Event shapes of e+e− collisions: thrust, sphericity, C-parameter, jet masses, broadenings.

All take the particles of many events at once, as awkward arrays of jagged ``px, py, pz`` (GeV)
(and ``E`` for the masses), and return one NumPy value per event. Definitions follow the LEP
conventions (e.g. OPAL, Eur. Phys. J. C 40 (2005) 287; Ellis, Stirling, Webber, *QCD and collider
physics*, ch. 3):

* thrust :math:`T = \\max_{\\hat n} \\sum_i |\\vec p_i\\cdot\\hat n| / \\sum_i |\\vec p_i|`,
  from 1 (two back-to-back jets) to 1/2 (isotropic); :math:`1 - T` is the usual variable;
* sphericity tensor :math:`S^{ab} = \\sum_i p_i^a p_i^b / \\sum_i |\\vec p_i|^2` with eigenvalues
  :math:`\\lambda_1 \\ge \\lambda_2 \\ge \\lambda_3`: sphericity :math:`S = \\tfrac32(\\lambda_2+\\lambda_3)`,
  aplanarity :math:`A = \\tfrac32\\lambda_3`;
* the linearised tensor :math:`\\Theta^{ab} = \\sum_i p_i^a p_i^b/|\\vec p_i| / \\sum_i |\\vec p_i|`
  gives the C-parameter :math:`C = 3(\\lambda_1\\lambda_2 + \\lambda_2\\lambda_3 + \\lambda_3\\lambda_1)`
  (0 for two jets, 3/4 for a symmetric three-jet event, 1 for isotropic);
* the plane normal to the thrust axis splits the event into two hemispheres: the heavy
  hemisphere mass :math:`\\rho_H = \\max(M_1^2, M_2^2)/E_\\text{vis}^2`, and the broadenings
  :math:`B_k = \\sum_{i\\in k} |\\vec p_i\\times\\hat n_T| / (2\\sum_i |\\vec p_i|)`,
  total :math:`B_T = B_1 + B_2` and wide :math:`B_W = \\max(B_1, B_2)`.

Every one of them vanishes (or, for thrust, tends to 1) for two back-to-back partons and grows
with each extra hard emission, i.e. with :math:`\\alpha_s`: the classic measurements of the
strong coupling at LEP fit their distributions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["thrust", "sphericity_tensor_eigenvalues", "event_shapes"]


def _arrays(px, py, pz):
    import awkward as ak

    return tuple(ak.values_astype(a, np.float64) for a in (px, py, pz))


def thrust(px, py, pz, n_starts: int = 4, n_iter: int = 12):
    """Thrust and the thrust axis of each event.

    The axis maximising :math:`\\sum_i|\\vec p_i\\cdot\\hat n|` is of the form
    :math:`\\hat n \\propto \\sum_i \\epsilon_i\\vec p_i` with :math:`\\epsilon_i = \\pm1`; the
    iteration :math:`\\hat n \\leftarrow \\sum_i \\operatorname{sign}(\\vec p_i\\cdot\\hat n)\\,\\vec p_i`
    increases the sum at every step and stops at such a configuration. It is started from the
    directions of the ``n_starts`` largest momenta and their pairwise sums and differences, and
    the best result is kept (exact for up to three particles; for real events it agrees with the
    exhaustive search to better than 1e-4 in :math:`1-T` in our tests).

    Returns ``(T, axis)`` with ``T`` of shape (N,) and ``axis`` (N, 3).
    """
    import awkward as ak

    px, py, pz = _arrays(px, py, pz)
    n_events = len(px)
    pabs = np.sqrt(px ** 2 + py ** 2 + pz ** 2)
    norm = ak.to_numpy(ak.sum(pabs, axis=1))
    order = ak.argsort(pabs, axis=1, ascending=False)
    lead = [(px[order], py[order], pz[order])]
    starts = []
    firsts = []
    for k in range(n_starts):
        firsts.append(np.stack([ak.to_numpy(ak.fill_none(ak.pad_none(c, n_starts, axis=1)[:, k], 0.0))
                                for c in lead[0]], axis=1))
    starts += firsts
    for a in range(n_starts):
        for b in range(a + 1, n_starts):
            starts += [firsts[a] + firsts[b], firsts[a] - firsts[b]]
    best_t = np.zeros(n_events)
    best_axis = np.tile([0.0, 0.0, 1.0], (n_events, 1))
    for start in starts:
        axis = start.copy()
        for _ in range(n_iter):
            length = np.linalg.norm(axis, axis=1)
            ok = length > 0
            axis[ok] /= length[ok, None]
            axis[~ok] = [0.0, 0.0, 1.0]
            dot = px * axis[:, 0] + py * axis[:, 1] + pz * axis[:, 2]
            sign = ak.where(dot >= 0, 1.0, -1.0)
            new = np.stack([ak.to_numpy(ak.sum(sign * c, axis=1)) for c in (px, py, pz)], axis=1)
            if np.allclose(new, axis * np.linalg.norm(new, axis=1)[:, None], rtol=0, atol=1e-12):
                break
            axis = new
        length = np.linalg.norm(axis, axis=1)
        ok = length > 0
        axis[ok] /= length[ok, None]
        value = ak.to_numpy(ak.sum(abs(px * axis[:, 0] + py * axis[:, 1] + pz * axis[:, 2]), axis=1))
        t = np.divide(value, norm, out=np.zeros(n_events), where=norm > 0)
        better = t > best_t
        best_t[better], best_axis[better] = t[better], axis[better]
    return best_t, best_axis


def _tensor(px, py, pz, weight):
    import awkward as ak

    comps = (px, py, pz)
    out = np.empty((len(px), 3, 3))
    for a in range(3):
        for b in range(a, 3):
            out[:, a, b] = out[:, b, a] = ak.to_numpy(ak.sum(comps[a] * comps[b] * weight, axis=1))
    return out


def sphericity_tensor_eigenvalues(px, py, pz, r: float = 2.0) -> np.ndarray:
    """Eigenvalues :math:`\\lambda_1\\ge\\lambda_2\\ge\\lambda_3` of the momentum tensor
    :math:`\\sum_i |\\vec p_i|^{r-2} p_i^a p_i^b / \\sum_i |\\vec p_i|^r`: r = 2 is the sphericity
    tensor, r = 1 the linearised (infrared-safe) one of the C-parameter. Shape (N, 3)."""
    import awkward as ak

    px, py, pz = _arrays(px, py, pz)
    pabs = np.sqrt(px ** 2 + py ** 2 + pz ** 2)
    tensor = _tensor(px, py, pz, pabs ** (r - 2))
    norm = ak.to_numpy(ak.sum(pabs ** r, axis=1))
    tensor /= np.where(norm > 0, norm, 1.0)[:, None, None]
    return np.linalg.eigvalsh(tensor)[:, ::-1]


def event_shapes(px, py, pz, e) -> dict:
    """All the event shapes of the module docstring, one array of shape (N,) each:
    ``thrust``, ``sphericity``, ``aplanarity``, ``c_parameter``, ``heavy_jet_mass`` (ρ_H),
    ``b_total``, ``b_wide``, ``e_visible`` (GeV)."""
    import awkward as ak

    px, py, pz = _arrays(px, py, pz)
    e = ak.values_astype(e, np.float64)
    t, axis = thrust(px, py, pz)
    lam2 = sphericity_tensor_eigenvalues(px, py, pz, 2.0)
    lam1 = sphericity_tensor_eigenvalues(px, py, pz, 1.0)
    pabs = np.sqrt(px ** 2 + py ** 2 + pz ** 2)
    norm = ak.to_numpy(ak.sum(pabs, axis=1))
    dot = px * axis[:, 0] + py * axis[:, 1] + pz * axis[:, 2]
    cross = np.sqrt(np.maximum(pabs ** 2 - dot ** 2, 0.0))
    e_vis = ak.to_numpy(ak.sum(e, axis=1))
    masses, broad = [], []
    for hemi in (dot >= 0, dot < 0):
        sums = [ak.to_numpy(ak.sum(c[hemi], axis=1)) for c in (px, py, pz, e)]
        masses.append(np.maximum(sums[3] ** 2 - sums[0] ** 2 - sums[1] ** 2 - sums[2] ** 2, 0.0))
        broad.append(ak.to_numpy(ak.sum(cross[hemi], axis=1)) / (2 * np.where(norm > 0, norm, 1.0)))
    return {"thrust": t,
            "sphericity": 1.5 * (lam2[:, 1] + lam2[:, 2]),
            "aplanarity": 1.5 * lam2[:, 2],
            "c_parameter": 3 * (lam1[:, 0] * lam1[:, 1] + lam1[:, 1] * lam1[:, 2] + lam1[:, 2] * lam1[:, 0]),
            "heavy_jet_mass": np.maximum(masses[0], masses[1]) / np.where(e_vis > 0, e_vis, 1.0) ** 2,
            "b_total": broad[0] + broad[1],
            "b_wide": np.maximum(broad[0], broad[1]),
            "e_visible": e_vis}
