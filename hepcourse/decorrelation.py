"""Classifiers that do not learn what they must not: gradient reversal, adversaries, distance correlation.

A tagger trained on simulation learns every feature that separates the classes, including those we do
not trust (a systematic variation z, the nuisance parameter of the analysis) and those we must keep
intact (the jet mass m, which a later fit or side-band estimate needs unsculpted). Two ways to stop it:

* **Adversarial training** (Plehn et al. [main text], Sec. 4.2, Eq. 4.14; Louppe, Kagan, Cranmer 2017):
  a second network, the adversary, predicts z (or m) from the classifier's output s; the classifier
  minimises its own loss while maximising the adversary's,

      L(θ_f, θ_r) = L_f(θ_f) − λ L_r(θ_f, θ_r),      θ̂_f, θ̂_r = argmin_θf argmax_θr L .

  With a cross-entropy adversary over bins of z, its best loss is the conditional entropy
  H(z|s) = H(z) − I(z; s): maximising it minimises the mutual information between output and nuisance —
  for an adversary flexible and trained enough to reach that optimum. A **gradient-reversal layer**
  (Ganin & Lempitsky 2015) plays the min–max game with one optimiser: it is the identity going forward
  and multiplies the gradient by −λ going back, so that minimising L_f + L_r trains the adversary to
  minimise L_r and the classifier to minimise L_f − λ L_r (:func:`grad_reverse`, :class:`AdversarialPair`).
* **DisCo** (Kasieczka & Shih 2020): add λ·dCor²(s, m) over background events to the loss, with the
  distance correlation of Székely, Rizzo and Bakirov (2007), which is zero if and only if s and m are
  independent (:func:`distance_correlation_sq`, :func:`disco_loss`). No second network, no min–max.

Both are trained by :func:`hepcourse.train.fit` with the losses :func:`adversarial_loss` (and the
optimiser of :func:`adversarial_optimizer`) and :func:`disco_loss`; a batch is ``(x, y, z)`` with ``z``
the quantity to decorrelate from (its bin index for the adversary).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .losses import bce_with_logits
from .models.config import ModelConfig
from .models.mlp import MLP, MLPConfig

__all__ = ["GradReverse", "grad_reverse", "distance_correlation_sq", "AdversaryConfig", "Adversary",
           "AdversarialPair", "quantile_bins", "adversarial_loss", "adversarial_optimizer", "disco_loss"]


class GradReverse(torch.autograd.Function):
    """Gradient reversal: forward y = x, backward ∂L/∂x = −λ ∂L/∂y (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return -ctx.lam * grad_output, None            # no gradient for λ


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """``x`` unchanged, with the gradient flowing back through it multiplied by −``lam``."""
    return GradReverse.apply(x, float(lam))


def distance_correlation_sq(x: torch.Tensor, y: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Squared distance correlation dCor²(x, y) of two 1D samples (N,), differentiable.

    With a_ij = |x_i − x_j| and b_ij = |y_i − y_j|, the squared distance covariance (the V-statistic of
    Székely, Rizzo, Bakirov 2007, Eq. 2.8) is the mean of the products of the double-centred matrices,

        dCov²(x, y) = ⟨A_ij B_ij⟩ = ⟨a_ij b_ij⟩ − 2 ⟨ā_i b̄_i⟩ + ā b̄,    A_ij = a_ij − ā_i − ā_j + ā,

    (ā_i row means, ā the grand mean) and dCor² = dCov²(x, y) / √(dCov²(x, x) dCov²(y, y)) ∈ [0, 1]:
    zero if and only if x and y are independent (for N → ∞), one for y = a x + b. The right-hand
    form needs only sums over rows, so it is computed ``chunk`` rows at a time in O(N·chunk) memory.
    """
    x, y = x.reshape(-1), y.reshape(-1)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y differ in length: {n} and {y.shape[0]}")
    row_a, row_b, sums = [], [], torch.zeros(3, dtype=x.dtype, device=x.device)
    for start in range(0, n, chunk):
        a = (x[start:start + chunk, None] - x[None, :]).abs()          # (c, N)
        b = (y[start:start + chunk, None] - y[None, :]).abs()
        row_a.append(a.mean(1))
        row_b.append(b.mean(1))
        sums = sums + torch.stack([(a * b).sum(), (a * a).sum(), (b * b).sum()])
    ra, rb = torch.cat(row_a), torch.cat(row_b)                          # (N,) row means
    ga, gb = ra.mean(), rb.mean()
    dcov_xy = sums[0] / n ** 2 - 2 * (ra * rb).mean() + ga * gb
    dvar_x = sums[1] / n ** 2 - 2 * (ra * ra).mean() + ga * ga
    dvar_y = sums[2] / n ** 2 - 2 * (rb * rb).mean() + gb * gb
    return dcov_xy / torch.sqrt(dvar_x * dvar_y).clamp_min(torch.finfo(x.dtype).tiny)


def quantile_bins(z: np.ndarray, n_bins: int, reference: np.ndarray | None = None) -> np.ndarray:
    """The bin index (0 … n_bins−1) of each ``z`` in ``n_bins`` equally populated bins of ``reference``
    (default ``z`` itself): the target of a classifying adversary."""
    ref = np.asarray(z if reference is None else reference, dtype=float)
    edges = np.quantile(ref, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.searchsorted(edges, np.asarray(z, dtype=float), side="right").astype(np.int64)


@dataclass
class AdversaryConfig(ModelConfig):
    """Hyperparameters of :class:`Adversary`."""

    n_bins: int = 10                        # bins of the nuisance the adversary classifies into
    hidden: tuple[int, ...] = (32, 32)
    activation: str = "silu"


class Adversary(nn.Module):
    """q(z-bin | f): an MLP from the classifier's output logit f (B,) to logits (B, n_bins) over equally
    populated bins of the nuisance. Its cross-entropy estimates H(z|f) from above. It reads the logit
    rather than the probability σ(f), which crowds the confidently classified events near 0 and 1, and
    standardises it over the batch: otherwise the classifier can escape the adversary by shrinking or
    shifting its output on the selected events (on the top/QCD jets, an adversary without it left the
    mutual information with the mass unchanged). A batch needs at least two selected events."""

    def __init__(self, cfg: AdversaryConfig | None = None):
        super().__init__()
        self.cfg = cfg or AdversaryConfig()
        self.net = MLP(MLPConfig(n_in=1, n_out=self.cfg.n_bins, hidden=self.cfg.hidden, activation=self.cfg.activation))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        f = f.reshape(-1)
        f = (f - f.mean()) / (f.std() + 1e-6)     # standardised over the batch: rescaling its output hides nothing
        return self.net(f.reshape(-1, 1))                                # (B, n_bins)


class AdversarialPair(nn.Module):
    """A classifier (any module returning one logit per event) and its adversary, trained together by
    :func:`adversarial_loss`; ``forward`` is the classifier's, so the pair is used like a classifier."""

    def __init__(self, classifier: nn.Module, adversary: Adversary):
        super().__init__()
        self.classifier, self.adversary = classifier, adversary

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)


def adversarial_loss(model: AdversarialPair, batch, lam: float, on: int | None = 0) -> torch.Tensor:
    """L_f + L_r with a gradient-reversal layer between them: the adversary minimises L_r, the classifier
    L_f − λ L_r (Eq. 4.14). ``batch`` = (x, y, z_bin); the adversary sees the events with label ``on``
    (0: background, for mass decorrelation; 1: signal, for a nuisance that shifts the signal; None: all).
    """
    x, y, z_bin = batch
    logit = model.classifier(x).reshape(-1)                              # (B,)
    loss_f = bce_with_logits(logit, y.float())
    sel = torch.ones_like(y, dtype=torch.bool) if on is None else (y == on)
    loss_r = nn.functional.cross_entropy(model.adversary(grad_reverse(logit[sel], lam)), z_bin[sel].long())
    return loss_f + loss_r


def adversarial_optimizer(model: AdversarialPair, lr: float = 1e-3, adversary_lr: float = 1e-2) -> torch.optim.Optimizer:
    """Adam with a larger learning rate for the adversary than for the classifier: the min–max game
    needs an adversary close to its optimum at every step, or the classifier learns to fool a weak
    adversary rather than to forget the nuisance (Louppe et al. train the adversary several steps per
    classifier step for the same reason). Pass it to :func:`hepcourse.train.fit` as ``optimizer``."""
    return torch.optim.Adam([{"params": model.classifier.parameters(), "lr": lr},
                             {"params": model.adversary.parameters(), "lr": adversary_lr}])


def disco_loss(model: nn.Module, batch, lam: float, on: int | None = 0) -> torch.Tensor:
    """BCE + λ dCor²(s, z) over the events with label ``on`` (Kasieczka & Shih 2020); ``batch`` = (x, y, z).
    s is the output probability; the batch should hold a few hundred such events for a stable dCor²."""
    x, y, z = batch
    logit = model(x).reshape(-1)
    sel = torch.ones_like(y, dtype=torch.bool) if on is None else (y == on)
    return bce_with_logits(logit, y.float()) + lam * distance_correlation_sq(torch.sigmoid(logit[sel]), z[sel].to(logit.dtype))
