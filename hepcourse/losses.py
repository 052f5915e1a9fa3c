"""Likelihood losses: each one is the negative log-likelihood of a probability model of the data.

Training a network means maximising the probability of the training data under a model,
L = −log p(x_train | θ) (Plehn et al. [plehn2022modern], Sec. 1.2.4, Eq. 1.41). Which loss to use follows from which
model describes the data:

* a Gaussian with known width σ:  :func:`gaussian_nll`  (χ² of a fit, Eq. 1.24; MSE for constant σ, Eq. 1.25);
* a Gaussian whose width σ_θ(x) the network learns:  :func:`heteroscedastic_nll`  (Eq. 1.44);
* a Bernoulli variable, signal or background:  :func:`bce_with_logits` (Eqs. 2.4–2.8), with event
  weights (e.g. :func:`balanced_class_weights`) for imbalanced classes;
* the focal loss (:func:`focal_loss_with_logits`) reweights the Bernoulli likelihood towards hard
  events; it is *not* a likelihood, and its optimum is not p(S|x);
* :func:`bce_loss` is the one classifier loss of the course's training loop: the BCE of
  ``model(*inputs)`` on a batch ``(*inputs, y)``;
* :func:`gaussian_kl`, the closed-form Kullback–Leibler divergence of two Gaussians (Eq. 1.78), is
  the regulariser of a Bayesian network's loss (Eq. 1.75).

Conventions: the batch axis comes first; ``reduction`` is ``"mean"`` (per-event average, what
:func:`hepcourse.train.fit` minimises), ``"sum"`` or ``"none"`` (per element); ``log`` is natural.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["gaussian_nll", "heteroscedastic_nll", "bce_with_logits", "bce_loss", "balanced_class_weights",
           "focal_loss_with_logits", "gaussian_kl"]

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _reduce(loss: torch.Tensor, reduction: str, weight: torch.Tensor | None = None) -> torch.Tensor:
    if weight is not None:
        weight = torch.as_tensor(weight, dtype=loss.dtype, device=loss.device)
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        # a weighted mean divides by the summed weights: the loss of an unweighted sample is unchanged
        return loss.sum() / (weight.expand_as(loss).sum() if weight is not None else loss.numel())
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def gaussian_nll(y: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor | float,
                 reduction: str = "mean", full: bool = True) -> torch.Tensor:
    """Negative log-likelihood of y under a Gaussian of mean μ and standard deviation σ.

        −log N(y; μ, σ²) = (y − μ)² / (2σ²) + log σ + ½ log 2π        (Plehn et al. [plehn2022modern], Eq. 1.23)

    ``sigma`` is a standard deviation (not a variance), a float or a tensor broadcastable to ``y``.
    With σ fixed, minimising it over μ is the χ² fit of Eq. (1.24); with one common σ it is the mean
    squared error up to the factor 1/(2σ²) (Eq. 1.25). ``full=False`` drops the constant ½ log 2π.
    Shapes: ``y``, ``mu`` (B, ...) → a scalar (or (B, ...) for ``reduction="none"``).
    """
    sigma = torch.as_tensor(sigma, dtype=mu.dtype, device=mu.device)
    loss = (y - mu) ** 2 / (2.0 * sigma ** 2) + torch.log(sigma)
    if full:
        loss = loss + HALF_LOG_2PI
    return _reduce(loss, reduction)


def heteroscedastic_nll(y: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor,
                        reduction: str = "mean", full: bool = True) -> torch.Tensor:
    """Gaussian NLL with a learned, x-dependent width σ_θ(x) = exp(log_sigma)  (Plehn et al. [plehn2022modern], Eq. 1.44):

        L = (y − μ_θ(x))² / (2 σ_θ(x)²) + log σ_θ(x) + ½ log 2π .

    The network predicts ``mu`` and ``log_sigma`` (so that σ > 0 needs no constraint). The first
    term pushes σ up, the second down; per event the minimum over σ is at σ² = (y − μ)², and over a
    sample with true width σ(x) at σ_θ(x) = σ(x). The gradients are
    ∂L/∂μ = −(y − μ)/σ² and ∂L/∂σ = 1/σ − (y − μ)²/σ³ (per event, before the mean).
    Shapes: ``y``, ``mu``, ``log_sigma`` (B,) → a scalar (or (B,) for ``reduction="none"``).
    """
    loss = 0.5 * (y - mu) ** 2 * torch.exp(-2.0 * log_sigma) + log_sigma
    if full:
        loss = loss + HALF_LOG_2PI
    return _reduce(loss, reduction)


def bce_with_logits(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None,
                    reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy: the negative log-likelihood of a Bernoulli model of the label.

        ℓ = −[y log s + (1 − y) log(1 − s)],   s = sigmoid(z) = 1/(1 + e^−z)

    (Plehn et al. [plehn2022modern], Eqs. 2.4–2.9; PDG review [pdg2025ml], Eq. 41.10). Its minimiser over all functions is the posterior
    s*(x) = p(S|x) of the *training* sample (Eq. 2.6; PDG Eq. 41.11), from which the likelihood ratio
    follows as r(x) = (N_B/N_S) s/(1 − s) (PDG Eq. 41.13). Computed from the logit z for numerical
    stability (log s = −softplus(−z)). With per-event ``weight`` w_i the mean is Σ w_i ℓ_i / Σ w_i:
    weights that give each class the same total (:func:`balanced_class_weights`) make the optimum the
    posterior of a balanced sample, s/(1 − s) = r(x).
    Shapes: ``logits``, ``y``, ``weight`` (B,) → a scalar.
    """
    y = y.to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return _reduce(loss, reduction, weight)


def bce_loss(model: torch.nn.Module, batch) -> torch.Tensor:
    """The loss of a binary classifier for :func:`hepcourse.train.fit`: :func:`bce_with_logits` of
    ``model(*inputs)`` (one logit per event, (B,) or (B, 1)) on a batch ``(*inputs, y)``, e.g. ``(x, y)``
    or ``(x, p4, mask, y)``, averaged over the batch."""
    *inputs, y = batch
    return bce_with_logits(model(*inputs).reshape(-1), y)


def balanced_class_weights(y: torch.Tensor) -> torch.Tensor:
    """Per-event weights w_i = N / (2 N_{y_i}): both classes get the same total weight N/2.

    Shape: ``y`` (B,) of 0/1 → (B,). Raises if a class is missing.
    """
    y = torch.as_tensor(y)
    n = y.numel()
    n_sig = int((y == 1).sum())
    n_bkg = n - n_sig
    if n_sig == 0 or n_bkg == 0:
        raise ValueError("balanced weights need events of both classes")
    return torch.where(y == 1, n / (2.0 * n_sig), n / (2.0 * n_bkg)).to(torch.get_default_dtype())


def focal_loss_with_logits(logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0,
                           alpha: float | None = None, reduction: str = "mean") -> torch.Tensor:
    """Focal loss (Lin et al. 2017) for imbalanced classes (the applications text on symmetric
    architectures [apps_a_symmetry], item A6):

        FL = −α_t (1 − p_t)^γ log p_t,   p_t = s for y = 1 and 1 − s for y = 0,

    with α_t = α for y = 1 and 1 − α for y = 0 (no α weighting when ``alpha`` is None). The factor
    (1 − p_t)^γ shrinks the loss of well-classified events: for a background event with s → 0 the
    gradient ∂FL/∂z tends to (1 + γ) s^(γ+1), a factor (1 + γ) s^γ below BCE's ∂ℓ/∂z = s. At γ = 0 and
    α = None it is the BCE. Its minimiser is *not* p(S|x): a focal-loss classifier must be
    recalibrated before s/(1 − s) is read as a likelihood ratio. Computed with ``logsigmoid``, so it
    stays finite for |z| → ∞. Shapes: ``logits``, ``y`` (B,) → a scalar.
    """
    y = y.to(logits.dtype)
    log_p = F.logsigmoid(logits)          # log s
    log_not_p = F.logsigmoid(-logits)     # log(1 − s)
    log_pt = y * log_p + (1 - y) * log_not_p          # log p_t
    log_one_minus_pt = y * log_not_p + (1 - y) * log_p  # log(1 − p_t)
    loss = -log_pt if gamma == 0 else -torch.exp(gamma * log_one_minus_pt) * log_pt
    if alpha is not None:
        loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return _reduce(loss, reduction)


def gaussian_kl(mu_q: torch.Tensor, sigma_q: torch.Tensor, mu_p: torch.Tensor | float,
                sigma_p: torch.Tensor | float) -> torch.Tensor:
    """KL divergence of two Gaussians, element by element  (Plehn et al. [plehn2022modern], Eq. 1.78):

        D_KL[N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)] = (σ_q² − σ_p² + (μ_q − μ_p)²) / (2σ_p²) + log(σ_p / σ_q) .

    ``sigma_q``, ``sigma_p`` are standard deviations. For Gaussians with diagonal covariance the KL
    is the sum of this over the dimensions (sum the result over the last axis). It is ≥ 0, zero
    only for q = p, and not symmetric. As σ_q → 0 it becomes (μ_q − μ_p)²/(2σ_p²) + const: the L2
    regularisation of a deterministic network (Eqs. 1.79–1.81). Shapes: broadcastable → broadcast shape.
    """
    sigma_p = torch.as_tensor(sigma_p, dtype=mu_q.dtype, device=mu_q.device)
    mu_p = torch.as_tensor(mu_p, dtype=mu_q.dtype, device=mu_q.device)
    return ((sigma_q ** 2 - sigma_p ** 2 + (mu_q - mu_p) ** 2) / (2.0 * sigma_p ** 2)
            + torch.log(sigma_p) - torch.log(sigma_q))
