"""Normalizing flows: affine (RealNVP) and rational-quadratic spline coupling layers, conditional or not.

A flow is an invertible map z = Ḡ(x) from data x to a latent z with a standard normal density. By the
change of variables (Plehn et al. [plehn2022modern], Sec. 4.3.1, Eq. 4.69),

    log p(x | c) = log N(Ḡ(x; c); 0, 1) + log |det ∂Ḡ(x; c)/∂x|,

and the flow is trained by minimising the negative log-likelihood of the data (Eq. 4.72). Ḡ is a chain of
coupling layers: each splits the features into a part x_A it leaves alone and a part x_B it transforms
element-wise, with parameters computed from (x_A, c) by an MLP (the conditioner). The Jacobian is then
triangular and its log-determinant is the sum of the log-derivatives of the element-wise maps:

* ``kind="affine"`` (RealNVP, Dinh et al. 2017; Eqs. 4.70–4.71): z_B = x_B · exp(s(x_A, c)) + t(x_A, c),
  log|det J| = Σ s. The scale is soft-bounded, s = s_max · tanh(s_raw / s_max), for stable training.
* ``kind="spline"`` (Durkan et al. 2019, "Neural spline flows"; Sec. 4.3.2, Fig. 50): z_B is a monotone
  rational-quadratic spline of x_B with ``bins`` bins on [−B, B] (``tail_bound`` = B) and the identity
  outside; widths, heights and inner-knot derivatives come from the conditioner.

Successive layers alternate which features are transformed, so every feature is transformed. In one
dimension there is nothing to split: the layer transforms the single feature with parameters that depend
on the context only (a learned constant without context), i.e. a learned monotone map.

Directions: :meth:`Flow.transform` maps data → latent and returns (z, log|det ∂z/∂x|); :meth:`Flow.inverse`
maps latent → data (used by :meth:`Flow.sample`). The last layer of every conditioner starts at zero, so an
untrained flow is the identity map.

``box=(lo, hi)``: data confined to a box are first mapped to the real line by u = logit(v) with
v = (x − lo)/(hi − lo) (``box_map="logit"``), or by the probit u = Φ⁻¹(v), the inverse of the normal CDF
(``box_map="probit"``); the log-Jacobian is included in :meth:`Flow.log_prob` (Plehn et al., Sec. 4.3.2 on
preprocessing). The probit maps a flat density in the box exactly onto the standard normal latent
(log|du/dx| = u²/2 + ln √(2π) − ln(hi − lo)), so a density that stays finite at the walls keeps Gaussian
tails in u, which the identity tails of a spline coupling reproduce; after the logit the tails are
exponential, and a flow with Gaussian latent tails puts too little density at the walls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .mlp import MLP, MLPConfig

KINDS = ("affine", "spline")
BOX_MAPS = ("logit", "probit")
LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class FlowConfig(ModelConfig):
    """Every hyperparameter of a :class:`Flow`."""

    dim: int = 2                          # number of features of x
    context_dim: int = 0                  # features of the condition c (0: an unconditional flow)
    n_layers: int = 4                     # coupling layers
    hidden: tuple[int, ...] = (64, 64)    # hidden widths of each conditioner MLP
    kind: str = "affine"                  # "affine" (RealNVP) or "spline" (rational-quadratic)
    bins: int = 8                         # spline bins
    tail_bound: float = 4.0               # the spline acts on [−tail_bound, tail_bound], identity outside
    scale_max: float = 3.0                # affine: |s| ≤ scale_max per layer (soft bound)
    activation: str = "relu"              # of the conditioner MLPs
    box: tuple[float, float] | None = None  # data in [lo, hi]^dim: mapped to the real line (Jacobian included)
    box_map: str = "logit"                # the map of the box onto the real line: "logit" or "probit"

    def check(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.dim < 1 or self.n_layers < 1 or self.bins < 2:
            raise ValueError(f"need dim ≥ 1, n_layers ≥ 1 and bins ≥ 2, got {self.dim}, {self.n_layers}, {self.bins}")
        if self.box_map not in BOX_MAPS:
            raise ValueError(f"box_map must be one of {BOX_MAPS}, got {self.box_map!r}")
        if self.box is not None:
            lo, hi = (float(b) for b in self.box)
            if not hi > lo:
                raise ValueError(f"box must be (lo, hi) with hi > lo, got {self.box}")
            self.box = (lo, hi)


# ------------------------------------------------------------------------------ rational-quadratic spline
MIN_WIDTH = MIN_HEIGHT = MIN_DERIVATIVE = 1e-3


def rational_quadratic_spline(x: torch.Tensor, w_raw: torch.Tensor, h_raw: torch.Tensor, d_raw: torch.Tensor,
                              tail_bound: float, inverse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Monotone rational-quadratic spline on [−B, B], identity outside (Durkan et al. 2019, Eqs. 4–6).

    ``x`` (...,); ``w_raw``, ``h_raw`` (..., K) unnormalised bin widths and heights; ``d_raw`` (..., K − 1)
    unnormalised derivatives at the inner knots (the derivative at ±B is 1, matching the linear tails; a
    zero ``d_raw`` gives derivative 1 everywhere, so zero parameters are the identity map). Returns
    (y, log|dy/dx|) — for ``inverse=True`` the inverse map and log|dx/dy| of it.
    """
    B = float(tail_bound)
    K = w_raw.shape[-1]
    inside = (x > -B) & (x < B)
    xc = x.clamp(-B, B)

    def knots(raw, minimum):
        frac = minimum + (1 - minimum * K) * torch.softmax(raw, dim=-1)           # (..., K), sums to 1
        cum = F.pad(torch.cumsum(frac, dim=-1), (1, 0))                             # (..., K + 1)
        cum = 2 * B * cum - B
        cum = torch.cat([torch.full_like(cum[..., :1], -B), cum[..., 1:-1], torch.full_like(cum[..., :1], B)], -1)
        return cum, cum[..., 1:] - cum[..., :-1]

    cw, widths = knots(w_raw, MIN_WIDTH)
    ch, heights = knots(h_raw, MIN_HEIGHT)
    shift = math.log(math.expm1(1 - MIN_DERIVATIVE))                                # softplus(shift) = 1 − min
    d = MIN_DERIVATIVE + F.softplus(F.pad(d_raw, (1, 1)) + shift)                   # (..., K + 1)

    edges = ch if inverse else cw
    idx = (torch.searchsorted(edges[..., 1:-1].contiguous(), xc.unsqueeze(-1).contiguous())).clamp(0, K - 1)

    def at(t):
        return t.gather(-1, idx).squeeze(-1)

    x0, w, y0, h = at(cw), at(widths), at(ch), at(heights)
    d0, d1 = at(d[..., :-1]), at(d[..., 1:])
    delta = h / w
    if inverse:
        dy = xc - y0
        a = h * (delta - d0) + dy * (d1 + d0 - 2 * delta)
        b = h * d0 - dy * (d1 + d0 - 2 * delta)
        c = -delta * dy
        disc = (b.pow(2) - 4 * a * c).clamp_min(0)
        theta = (2 * c / (-b - disc.sqrt())).clamp(0, 1)
        out = theta * w + x0
    else:
        theta = ((xc - x0) / w).clamp(0, 1)
        tt = theta * (1 - theta)
        out = y0 + h * (delta * theta.pow(2) + d0 * tt) / (delta + (d1 + d0 - 2 * delta) * tt)
    tt = theta * (1 - theta)
    denom = delta + (d1 + d0 - 2 * delta) * tt
    logdet = (2 * delta.log() + (d1 * theta.pow(2) + 2 * delta * tt + d0 * (1 - theta).pow(2)).log()
              - 2 * denom.log())                                                   # log dy/dx of the forward map
    if inverse:
        logdet = -logdet
    return torch.where(inside, out, x), torch.where(inside, logdet, torch.zeros_like(logdet))


# ------------------------------------------------------------------------------ coupling layer
class Coupling(nn.Module):
    """One coupling layer: transforms the features ``transformed`` given the others and the context."""

    def __init__(self, cfg: FlowConfig, transformed: list[int]):
        super().__init__()
        self.cfg = cfg
        identity = [i for i in range(cfg.dim) if i not in transformed]
        self.register_buffer("idx_b", torch.tensor(transformed, dtype=torch.long), persistent=False)
        self.register_buffer("idx_a", torch.tensor(identity, dtype=torch.long), persistent=False)
        per_feature = 2 if cfg.kind == "affine" else 3 * cfg.bins - 1
        self.n_in = max(len(identity) + cfg.context_dim, 1)        # a constant input when there is nothing else
        self.net = MLP(MLPConfig(n_in=self.n_in, n_out=len(transformed) * per_feature, hidden=cfg.hidden,
                                 activation=cfg.activation))
        last = self.net.layers[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)                                   # the layer starts as the identity

    def _params(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        parts = [x[:, self.idx_a]]
        if context is not None:
            parts.append(context)
        h = torch.cat(parts, dim=1)                                 # (B, n_identity + context_dim)
        if h.shape[1] == 0:
            h = x.new_zeros(x.shape[0], 1)
        return self.net(h).view(x.shape[0], len(self.idx_b), -1)   # (B, n_transformed, per_feature)

    def _couple(self, x, context, inverse: bool):
        p = self._params(x, context)
        xb = x[:, self.idx_b]                                       # (B, n_transformed)
        if self.cfg.kind == "affine":
            s = self.cfg.scale_max * torch.tanh(p[..., 0] / self.cfg.scale_max)
            t = p[..., 1]
            yb = (xb - t) * torch.exp(-s) if inverse else xb * torch.exp(s) + t
            logdet = -s if inverse else s
        else:
            K = self.cfg.bins
            yb, logdet = rational_quadratic_spline(xb, p[..., :K], p[..., K:2 * K], p[..., 2 * K:],
                                                   self.cfg.tail_bound, inverse=inverse)
        y = x.clone()
        y[:, self.idx_b] = yb
        return y, logdet.sum(dim=1)                                 # (B, dim), (B,)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None):
        """Data direction → latent direction: (y, log|det ∂y/∂x|)."""
        return self._couple(x, context, inverse=False)

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None):
        """The inverse map and log|det ∂x/∂y| (= − the forward log-determinant at x)."""
        return self._couple(y, context, inverse=True)


# ------------------------------------------------------------------------------ the flow
class Flow(nn.Module):
    """A coupling flow with a standard normal latent: ``log_prob(x, context)``, ``sample(n, context)``.

    ``model(x, context)`` is ``log_prob``, so ``hepcourse.train.predict(flow, x)`` returns log-densities and
    the training loss is ``-flow(x, c).mean()`` (:func:`nll_loss`).
    """

    config_class = FlowConfig

    def __init__(self, cfg: FlowConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg = cfg or FlowConfig(**kwargs)
        layers = []
        for k in range(cfg.n_layers):
            transformed = [0] if cfg.dim == 1 else [i for i in range(cfg.dim) if (i + k) % 2 == 1]
            layers.append(Coupling(cfg, transformed))
        self.layers = nn.ModuleList(layers)

    # -- preprocessing of a box
    def _to_real(self, x):
        lo, hi = self.cfg.box
        u = ((x - lo) / (hi - lo)).clamp(1e-7, 1 - 1e-7)
        if self.cfg.box_map == "probit":
            y = torch.special.ndtri(u)                                   # Φ⁻¹(u); dy/du = 1/φ(y)
            logdet = (0.5 * y.pow(2) + 0.5 * LOG_2PI - math.log(hi - lo)).sum(dim=1)
            return y, logdet
        y = torch.log(u) - torch.log1p(-u)
        logdet = (-torch.log(u) - torch.log1p(-u) - math.log(hi - lo)).sum(dim=1)
        return y, logdet

    def _from_real(self, y):
        lo, hi = self.cfg.box
        if self.cfg.box_map == "probit":
            return lo + (hi - lo) * torch.special.ndtr(y)
        return lo + (hi - lo) * torch.sigmoid(y)

    def _context(self, context, n: int, like: torch.Tensor):
        if self.cfg.context_dim == 0:
            if context is not None:
                raise ValueError("this flow is unconditional (context_dim=0) but a context was given")
            return None
        if context is None:
            raise ValueError(f"this flow is conditional: give a context with {self.cfg.context_dim} features")
        context = torch.as_tensor(context, dtype=like.dtype, device=like.device)
        if context.dim() == 1:
            context = context.view(1, -1).expand(n, -1) if context.numel() == self.cfg.context_dim \
                else context.view(-1, 1)
        if context.shape != (n, self.cfg.context_dim):
            raise ValueError(f"context must have shape ({n}, {self.cfg.context_dim}) or "
                             f"({self.cfg.context_dim},), got {tuple(context.shape)}")
        return context

    def transform(self, x: torch.Tensor, context: torch.Tensor | None = None):
        """Data → latent: (z (B, dim), log|det ∂z/∂x| (B,)), the box preprocessing included."""
        context = self._context(context, x.shape[0], x)
        logdet = x.new_zeros(x.shape[0])
        if self.cfg.box is not None:
            x, logdet = self._to_real(x)
        for layer in self.layers:
            x, ld = layer(x, context)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Latent → data: x = Ḡ⁻¹(z; c), shape (B, dim)."""
        context = self._context(context, z.shape[0], z)
        for layer in reversed(self.layers):
            z, _ = layer.inverse(z, context)
        return self._from_real(z) if self.cfg.box is not None else z

    def log_prob(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x | c) (B,) by the change of variables (Eq. 4.69)."""
        z, logdet = self.transform(x, context)
        return -0.5 * (z.pow(2).sum(dim=1) + self.cfg.dim * LOG_2PI) + logdet

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.log_prob(x, context)

    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor | None = None, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """n samples (n, dim). A context of shape (n, context_dim) gives one sample per row; one of shape
        (context_dim,) is shared by all n."""
        param = next(self.parameters())
        z = torch.randn(n, self.cfg.dim, generator=generator, device=param.device, dtype=param.dtype)
        return self.inverse(z, context)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def nll_loss(flow: Flow, batch) -> torch.Tensor:
    """The flow loss of Eq. 4.72, −⟨log p(x | c)⟩, as a ``loss_fn`` for ``hepcourse.train.fit``: the batch
    is ``(x,)`` or ``(x, context)``."""
    x, *rest = batch if isinstance(batch, (tuple, list)) else (batch,)
    return -flow.log_prob(x, rest[0] if rest else None).mean()
