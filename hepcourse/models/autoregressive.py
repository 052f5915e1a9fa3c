"""An autoregressive transformer density with Gaussian-mixture conditionals (JetGPT-like).

Plehn et al. [plehn2022modern], Sec. 4.5: the density factorises into conditionals (Eq. 4.162),

    p(x) = Π_i p_θ(x_i | x_1 … x_{i−1}),

each a mixture of K Gaussians whose weights, means and widths a transformer predicts from the preceding
features (Eq. 4.163). A causal mask (Eq. 4.164) lets position i attend only to positions ≤ i, so one forward
pass gives every conditional and the training loss −⟨log p(x)⟩ (Eq. 4.165). Sampling needs one pass per
feature: the model is fast to train and slow to sample, the trade-off of autoregressive flows in fast
calorimeter simulation (Sec. 4.3.4).

The input sequence is [start, x_1, …, x_{D−1}]: each scalar is embedded by a linear map plus a learned
position embedding; the output at position i parameterises p(x_{i+1} | x_{≤i}).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from .config import ModelConfig


@dataclass
class ARConfig(ModelConfig):
    """Every hyperparameter of an :class:`AutoregressiveDensity`."""

    dim: int = 2               # number of features, generated in this order
    n_components: int = 5      # Gaussians per conditional
    d_model: int = 32
    n_heads: int = 2
    n_layers: int = 2
    dropout: float = 0.0


def gmm_log_prob(x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """log Σ_k w_k N(x; μ_k, σ_k²) with w = softmax(logits) (Eq. 4.163): x (...,), parameters (..., K) → (...)."""
    z = (x.unsqueeze(-1) - mu) / log_sigma.exp()
    log_n = -0.5 * z.pow(2) - log_sigma - 0.5 * math.log(2 * math.pi)
    return torch.logsumexp(torch.log_softmax(logits, dim=-1) + log_n, dim=-1)


class AutoregressiveDensity(nn.Module):
    """``log_prob(x)`` (B,) for x (B, dim); ``conditionals(x)`` the mixture parameters (B, dim, K) ×3;
    ``sample(n)`` one feature after the other."""

    config_class = ARConfig

    def __init__(self, cfg: ARConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg = cfg or ARConfig(**kwargs)
        self.embed = nn.Linear(1, cfg.d_model)
        self.start = nn.Parameter(torch.zeros(cfg.d_model))
        self.position = nn.Parameter(0.02 * torch.randn(cfg.dim, cfg.d_model))
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, dim_feedforward=2 * cfg.d_model,
                                           dropout=cfg.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(cfg.d_model, 3 * cfg.n_components)
        mask = torch.triu(torch.full((cfg.dim, cfg.dim), float("-inf")), diagonal=1)    # Eq. 4.164
        self.register_buffer("mask", mask, persistent=False)

    def conditionals(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, μ, log σ), each (B, dim, K): position i parameterises p(x_i | x_{<i})."""
        B = x.shape[0]
        tokens = torch.cat([self.start.expand(B, 1, -1), self.embed(x[:, :-1, None])], dim=1)  # (B, dim, d_model)
        h = self.encoder(tokens + self.position, mask=self.mask, is_causal=True)                 # (B, dim, d_model)
        logits, mu, log_sigma = self.head(h).chunk(3, dim=-1)
        return logits, mu, log_sigma.clamp(-7.0, 5.0)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = Σ_i log p(x_i | x_{<i}) (Eq. 4.162), (B,)."""
        return gmm_log_prob(x, *self.conditionals(x)).sum(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples (n, dim), drawn feature by feature: ``dim`` passes of the network."""
        param = next(self.parameters())
        x = torch.zeros(n, self.cfg.dim, device=param.device, dtype=param.dtype)
        for i in range(self.cfg.dim):
            logits, mu, log_sigma = (p[:, i] for p in self.conditionals(x))           # (n, K)
            k = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)  # (n, 1)
            eps = torch.randn(n, generator=generator, device=x.device, dtype=x.dtype)
            x[:, i] = mu.gather(1, k)[:, 0] + log_sigma.gather(1, k)[:, 0].exp() * eps
        return x


def ar_loss(model: AutoregressiveDensity, batch) -> torch.Tensor:
    """−⟨log p(x)⟩ (Eq. 4.165) as a ``loss_fn`` for :func:`hepcourse.train.fit`; the batch is ``(x,)``."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return -model.log_prob(x).mean()
