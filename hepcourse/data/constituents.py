"""Jet constituents as inputs of set, graph and transformer taggers (chapter 04).

A jet is a set of N constituents with four-momenta p_i = (E_i, p_x,i, p_y,i, p_z,i) in GeV. The
taggers of chapter 04 see it in three forms, all computed here with torch (on any device) from the
padded arrays of :func:`hepcourse.data.load` and a boolean ``mask`` of the real particles:

* per-particle features :data:`PARTICLE_INPUTS` relative to the jet axis (Plehn et al. [plehn2022modern], Eq. 2.42;
  the ParticleNet/ParT choice of Qu and Gouskos 2020, Qu et al. 2022):

      Δη_i = η_i − η_J,   Δφ_i = φ_i − φ_J wrapped into [−π, π),   ln p_T,i,   ln E_i,
      ln z_i = ln(p_T,i / Σ_j p_T,j),   ln(E_i / Σ_j E_j),   ΔR_i = √(Δη_i² + Δφ_i²);

* pairwise features :data:`PAIR_INPUTS` of two particles a, b (Qu et al. 2022, Eq. 3, the
  attention bias of the particle transformer):

      ln Δ,  Δ = √(Δy² + Δφ²),   ln k_T,  k_T = min(p_T,a, p_T,b) Δ,
      ln z,  z = min(p_T,a, p_T,b) / (p_T,a + p_T,b),   ln m²,  m² = (p_a + p_b)²;

* Minkowski products d_ij = p_i · p_j = E_i E_j − p⃗_i · p⃗_j, invariant under Lorentz
  transformations (Plehn et al. [plehn2022modern], Eq. 2.46; the inputs of LorentzNet and PELICAN).

The jet axis is the sum of the constituents (E-scheme). Padded entries of every output are zero,
and no padded value enters a real particle's features.

The features keep their physical values (GeV, radians); the networks shift and scale them to order
one with the fixed constants :data:`PARTICLE_SHIFT_SCALE` and :data:`PAIR_SHIFT_SCALE` (measured on
the training jets, rounded; :func:`standardise`), as ParT does. Scaling Δη and Δφ by the same
factor keeps the angular neighbours of a particle and the IRC safety of the energy flow network.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PARTICLE_INPUTS", "ANGLES", "PAIR_INPUTS", "KINEMATICS", "PARTICLE_SHIFT_SCALE", "PAIR_SHIFT_SCALE", "standardise",
           "ConstituentInputs", "four_momenta", "particle_features", "pairwise_features", "minkowski_products",
           "full_precision", "wrap_phi", "from_kinematics", "from_jets", "flat_features", "load_inputs"]

KINEMATICS = ("pt", "eta", "phi", "e")
"""The particle fields to ask :func:`hepcourse.data.load` for (``particle_fields=KINEMATICS``)."""
PARTICLE_INPUTS = ("deta", "dphi", "log_pt", "log_e", "log_z", "log_e_rel", "dr")
"""Columns of :func:`particle_features`: Δη, Δφ to the jet axis, ln p_T, ln E (GeV), ln z, ln(E/E_J), ΔR."""
ANGLES = (PARTICLE_INPUTS.index("deta"), PARTICLE_INPUTS.index("dphi"))
"""The columns of Δη and Δφ in :data:`PARTICLE_INPUTS`: what an energy flow network's Φ and the first k-NN graph see."""
PAIR_INPUTS = ("log_delta", "log_kt", "log_z", "log_m2")
"""Last axis of :func:`pairwise_features`: ln Δ, ln k_T (GeV), ln z, ln m² (GeV²)."""
PARTICLE_SHIFT_SCALE = ((0.0, 0.2), (0.0, 0.2), (2.3, 1.1), (2.7, 1.2), (-4.0, 1.1), (-4.0, 1.1), (0.2, 0.2))
"""(shift, scale) of each column of :data:`PARTICLE_INPUTS`: about the mean and standard deviation on jets-top-qcd."""
PAIR_SHIFT_SCALE = ((-1.75, 1.3), (0.0, 1.4), (-1.5, 0.85), (1.5, 2.3))
"""(shift, scale) of each pairwise feature of :data:`PAIR_INPUTS` (real pairs of jets-top-qcd)."""
_TINY = 1e-8


@contextmanager
def full_precision(t: torch.Tensor):
    """``with full_precision(p4) as p4:`` autocast switched off and ``t`` in (at least) float32 inside the block.

    For inputs computed by cancellation, such as E_i E_j − p⃗_i·p⃗_j or (p_a + p_b)²: under mixed precision
    (bfloat16 has an 8-bit mantissa, ~3 significant digits) the difference of two nearly equal products of
    TeV-scale momenta would be lost entirely. The network casts the result back to its working precision."""
    with torch.autocast(device_type=t.device.type, enabled=False):
        yield t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def standardise(t: torch.Tensor, shift_scale, columns=None) -> torch.Tensor:
    """(t − shift) / scale along the last axis, with the constants of ``shift_scale`` (optionally
    only those of ``columns``). Zero stays zero only where shift = 0: mask padded entries afterwards."""
    c = torch.tensor(shift_scale, dtype=t.dtype, device=t.device)
    if columns is not None:
        c = c[columns]
    return (t - c[:, 0]) / c[:, 1]


def wrap_phi(dphi: torch.Tensor) -> torch.Tensor:
    """Δφ wrapped into [−π, π): ((Δφ + π) mod 2π) − π (as :func:`hepcourse.physics.jets.delta_phi`)."""
    return torch.remainder(dphi + math.pi, 2 * math.pi) - math.pi


def four_momenta(pt: torch.Tensor, eta: torch.Tensor, phi: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """(E, p_x, p_y, p_z) = (E, p_T cos φ, p_T sin φ, p_T sinh η), stacked on a last axis of size 4."""
    return torch.stack([e, pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)], dim=-1)


def _pt_eta_phi(p4: torch.Tensor):
    pt = torch.hypot(p4[..., 1], p4[..., 2])
    eta = torch.asinh(p4[..., 3] / pt.clamp_min(_TINY))
    phi = torch.atan2(p4[..., 2], p4[..., 1])
    return pt, eta, phi


def _zero_padded(t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``t`` with every entry of a padded particle set to zero (``torch.where``, so NaN never leaks)."""
    m = mask.reshape(mask.shape + (1,) * (t.dim() - mask.dim()))
    return torch.where(m, t, torch.zeros((), dtype=t.dtype, device=t.device))


def particle_features(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The per-particle features :data:`PARTICLE_INPUTS`: p4 (B, N, 4), mask (B, N) → (B, N, 7)."""
    p4 = _zero_padded(p4, mask)
    jet = p4.sum(dim=1)                                              # (B, 4): E-scheme jet axis
    pt, eta, phi = _pt_eta_phi(p4)                                    # (B, N) each
    jet_pt, jet_eta, jet_phi = _pt_eta_phi(jet)                       # (B,)
    safe = lambda t: torch.where(mask, t, torch.ones((), dtype=t.dtype, device=t.device))  # noqa: E731
    deta = eta - jet_eta[:, None]
    dphi = wrap_phi(phi - jet_phi[:, None])
    e = p4[..., 0]
    feats = torch.stack([deta, dphi, torch.log(safe(pt)), torch.log(safe(e)),
                         torch.log(safe(pt / pt.sum(1, keepdim=True))), torch.log(safe(e / jet[:, None, 0])),
                         torch.hypot(deta, dphi)], dim=-1)            # (B, N, 7)
    return _zero_padded(feats, mask)


def pairwise_features(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The pairwise features :data:`PAIR_INPUTS` of every pair: p4 (B, N, 4) → (B, N, N, 4).

    Δy uses the rapidity y = ½ ln[(E + p_z)/(E − p_z)]; the logarithms are cut at ln 10⁻⁸. Pairs
    with a padded particle and the diagonal (a = b, where Δ = 0 says nothing) are zero. Computed in
    float32 with autocast off (:func:`full_precision`): m² is a difference of large numbers.
    """
    with full_precision(p4) as p4:
        return _pairwise_features(p4, mask)


def _pairwise_features(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    p4 = _zero_padded(p4, mask)
    pt, _, phi = _pt_eta_phi(p4)
    e, pz = p4[..., 0], p4[..., 3]
    y = 0.5 * torch.log(((e + pz).clamp_min(_TINY)) / ((e - pz).clamp_min(_TINY)))
    dy = y[:, :, None] - y[:, None, :]                                 # (B, N, N)
    dphi = wrap_phi(phi[:, :, None] - phi[:, None, :])
    delta = torch.sqrt(dy ** 2 + dphi ** 2 + _TINY ** 2)
    pt_min = torch.minimum(pt[:, :, None], pt[:, None, :])
    z = pt_min / (pt[:, :, None] + pt[:, None, :]).clamp_min(_TINY)
    psum = p4[:, :, None, :] + p4[:, None, :, :]                       # (B, N, N, 4)
    m2 = psum[..., 0] ** 2 - (psum[..., 1:] ** 2).sum(-1)
    log = lambda t: torch.log(t.clamp_min(_TINY))                      # noqa: E731
    u = torch.stack([log(delta), log(pt_min * delta), log(z), log(m2)], dim=-1)   # (B, N, N, 4)
    n = mask.shape[1]
    pair = mask[:, :, None] & mask[:, None, :] & ~torch.eye(n, dtype=torch.bool, device=mask.device)
    return _zero_padded(u, pair)


def minkowski_products(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """d_ij = p_i · p_j = E_i E_j − p⃗_i · p⃗_j (metric diag(+1, −1, −1, −1)): (B, N, 4) → (B, N, N).

    Zero for pairs with a padded particle. Σ_ij d_ij = m_J², the squared jet mass. Computed in float32
    with autocast off (:func:`full_precision`): for two nearly collinear particles d_ij is a small
    difference of large products, which bfloat16 would round to noise.
    """
    with full_precision(p4) as p4:
        p4 = _zero_padded(p4, mask)
        metric = torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=p4.dtype, device=p4.device)
        return torch.einsum("bid,bjd->bij", p4 * metric, p4)


@dataclass
class ConstituentInputs:
    """What every chapter 04 tagger takes: ``model(x, p4, mask)``."""

    x: torch.Tensor        # (B, N, 7) per-particle features, PARTICLE_INPUTS
    p4: torch.Tensor       # (B, N, 4) four-momenta (E, px, py, pz) in GeV
    mask: torch.Tensor     # (B, N) bool, True for real particles

    def __len__(self) -> int:
        return len(self.mask)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x, self.p4, self.mask


def from_kinematics(pt, eta, phi, e, mask) -> ConstituentInputs:
    """:class:`ConstituentInputs` from padded (B, N) arrays of p_T, η, φ, E (GeV) and the mask."""
    as_t = lambda a: torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a)   # noqa: E731
    pt, eta, phi, e = (as_t(a) for a in (pt, eta, phi, e))
    mask = as_t(mask).bool()
    dtype = pt.dtype if pt.is_floating_point() else torch.float32
    p4 = _zero_padded(four_momenta(*(a.to(dtype) for a in (pt, eta, phi, e))), mask)
    return ConstituentInputs(particle_features(p4, mask), p4, mask)


def from_jets(jets) -> ConstituentInputs:
    """:class:`ConstituentInputs` from a :class:`hepcourse.data.datasets.JetTensors` that holds the
    fields :data:`KINEMATICS` (``load(..., particle_fields=KINEMATICS)``), as float32 tensors."""
    cols = [jets.particle_fields.index(f) for f in KINEMATICS]
    parts = torch.as_tensor(np.asarray(jets.particles)[..., cols], dtype=torch.float32)
    return from_kinematics(parts[..., 0], parts[..., 1], parts[..., 2], parts[..., 3], jets.mask)


def flat_features(inputs: ConstituentInputs, n: int = 30) -> torch.Tensor:
    """The input of a flat-constituent MLP (the ATLAS TopoDNN idea): (Δη, Δφ, ln p_T) of the ``n``
    leading constituents (p_T-ordered, as stored), standardised with :data:`PARTICLE_SHIFT_SCALE`,
    zero where a jet has fewer: (B, 3n)."""
    cols = [PARTICLE_INPUTS.index(c) for c in ("deta", "dphi", "log_pt")]
    x = standardise(inputs.x[:, :n, cols], PARTICLE_SHIFT_SCALE, cols)    # (B, ≤n, 3)
    x = torch.where(inputs.mask[:, :n, None], x, torch.zeros((), dtype=x.dtype))
    if x.shape[1] < n:
        x = torch.nn.functional.pad(x, (0, 0, 0, n - x.shape[1]))
    return x.reshape(len(x), -1)                                         # (B, 3n)


def load_inputs(name: str = "jets-top-qcd", split: str = "train", n: int | None = None, max_particles: int = 30,
                detector: bool = False):
    """One split of a jet data set as ``(ConstituentInputs, labels (N,), JetTensors)``: the
    :data:`KINEMATICS` of the ``max_particles`` leading constituents (the hardest 30–40 carry
    nearly all the information, Plehn et al. [plehn2022modern], Sec. 2.2.1), the labels as a float32 tensor, and the
    loader's :class:`~hepcourse.data.datasets.JetTensors` (for the high-level features). ``detector=True``
    reads the jets through the toy detector (:mod:`hepcourse.data.detector`, its default seed)."""
    from .datasets import load

    jets = load(name, split=split, n=n, format="numpy", max_particles=max_particles, particle_fields=KINEMATICS,
                detector=detector)
    return from_jets(jets), torch.as_tensor(jets.labels, dtype=torch.float32), jets
