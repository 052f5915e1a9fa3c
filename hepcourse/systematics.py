"""A systematic uncertainty propagated through a tagger: calibration shifts, threshold shifts, augmentation.

A detector calibration is known only to some precision: the energy scale of the hardest constituents
of a jet, say, to ±10% (Plehn et al. [main text], Sec. 2.1.4, Fig. 20). Shifting it by one standard
deviation changes every input of a tagger and so its output. This module

* applies the shift to padded jets (:func:`scale_leading`) — the ±1σ samples a template fit needs;
* samples it at random during training (:func:`augmented_loss`), so that the network learns to give
  the same answer for every calibration within the uncertainty (data augmentation, Sec. 2.1.4);
* propagates a small shift δc of the working point of a cut on the output to the significance of a
  counting experiment by the chain rule (:func:`significance_slope`; item A15 of the applications
  text on symmetries and structure):

      dZ/dc = ∂Z/∂s · S dε_S/dc + ∂Z/∂b · B dε_B/dc,   dε/dc = −f(c),
      ∂Z/∂s = ln(1 + s/b)/Z,   ∂Z/∂b = [ln(1 + s/b) − s/b]/Z,

  with f the density of the classifier's output at the threshold c and Z the Asimov significance
  (:func:`hepcourse.metrics.asimov_significance`).
"""

from __future__ import annotations

import numpy as np
import torch

from .data.constituents import ConstituentInputs, from_kinematics
from .losses import bce_loss

__all__ = ["kinematics", "scale_leading", "augmented_loss", "significance_slope"]


def kinematics(p4: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(p_T, η, φ, E) of four-momenta (..., 4) = (E, p_x, p_y, p_z) in GeV."""
    pt = torch.hypot(p4[..., 1], p4[..., 2])
    return pt, torch.asinh(p4[..., 3] / pt.clamp_min(1e-9)), torch.atan2(p4[..., 2], p4[..., 1]), p4[..., 0]


def scale_leading(inputs: ConstituentInputs, scale, n_leading: int = 3) -> ConstituentInputs:
    """The jets of ``inputs`` with the four-momenta of their ``n_leading`` hardest constituents (the first
    slots: constituents are stored in decreasing p_T) multiplied by ``scale`` — a number, or one per jet
    (B,). Directions are kept, every derived input (z, E/E_J, the jet axis) is recomputed."""
    pt, eta, phi, e = kinematics(inputs.p4)
    factor = torch.ones_like(pt)                                              # (B, N)
    scale = torch.as_tensor(scale, dtype=pt.dtype, device=pt.device).reshape(-1, 1)
    factor[:, :n_leading] = scale.expand(len(pt), min(n_leading, pt.shape[1]))
    return from_kinematics(pt * factor, eta, phi, e * factor, inputs.mask)


def augmented_loss(model: torch.nn.Module, batch, width: float = 0.1, n_leading: int = 3) -> torch.Tensor:
    """BCE of a constituent tagger on jets whose ``n_leading`` hardest constituents are rescaled by a
    factor drawn uniformly from [1 − width, 1 + width] for each jet (``batch`` = (x, p4, mask, y); x is
    recomputed). In evaluation mode (validation) the jets are left nominal."""
    x, p4, mask, y = batch
    if model.training:
        scale = 1.0 + width * (2.0 * torch.rand(len(y), device=p4.device) - 1.0)
        x, p4, mask = scale_leading(ConstituentInputs(x, p4, mask), scale, n_leading).tensors()
    return bce_loss(model, (x, p4, mask, y))


def significance_slope(score_signal, score_background, c: float, n_signal: float, n_background: float,
                       bandwidth: float | None = None) -> tuple[float, float]:
    """``(Z, dZ/dc)``: the Asimov significance of the cut ``score > c`` for ``n_signal`` and
    ``n_background`` expected events before the cut, and its derivative with respect to the threshold
    by the chain rule (module docstring), the densities f_S(c), f_B(c) from a Gaussian kernel density
    estimate (``bandwidth`` in units of the score; default Scott's rule)."""
    from scipy.stats import gaussian_kde

    from .metrics import asimov_significance

    ss, sb = np.asarray(score_signal, float).ravel(), np.asarray(score_background, float).ravel()
    s, b = n_signal * np.mean(ss > c), n_background * np.mean(sb > c)
    z = asimov_significance(s, b)
    dens = []
    for v in (ss, sb):
        kde = gaussian_kde(v, bw_method=None if bandwidth is None else bandwidth / v.std(ddof=1))
        dens.append(float(kde(c)[0]))
    dz_ds, dz_db = np.log1p(s / b) / z, (np.log1p(s / b) - s / b) / z
    return z, float(dz_ds * n_signal * -dens[0] + dz_db * n_background * -dens[1])
