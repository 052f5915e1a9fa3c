"""The variational autoencoder (VAE): an autoencoder whose latent space is a probability distribution.

The encoder gives a Gaussian p^E(z|x) = N(μ(x), diag σ²(x)) (it outputs μ and log σ²), the decoder a
Gaussian p^D(x|z) = N(x̂(z), σ_x² 1) with a fixed width σ_x, and the latent prior is N(0, 1). Training
minimises the negative evidence lower bound (ELBO) per event, with a weight β on the KL term
(Plehn et al. [plehn2022modern], Sec. 3.2.1, Eq. 3.9; β = 1 is the ELBO, β ≠ 1 the β-VAE):

    L(x) = ⟨ −log p^D(x|z) ⟩_{z∼p^E(z|x)} + β D_KL[ p^E(z|x) ‖ N(0, 1) ]
         = ⟨ |x − x̂(z)|² ⟩ / (2σ_x²) + (n/2) log(2π σ_x²) + β D_KL ,

the first expectation estimated with one draw of the reparameterisation (Eq. 3.10)

    z = μ + σ ⊙ ε,   ε ∼ N(0, 1),

which makes the sample a differentiable function of μ and σ, and the KL in closed form (Eq. 3.11; the
main text's prefactor 1/(2n) averages over the n latent dimensions, the KL itself is ½ Σ_j):

    D_KL = ½ Σ_j ( μ_j² + σ_j² − 1 − log σ_j² ) .

Anomaly scores (:func:`vae_scores`): the reconstruction error |x − x̂(μ)|² and the KL term, the
latent score, which measures how far an event's encoding lies from the prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .config import ModelConfig
from .mlp import MLP, MLPConfig

__all__ = ["VAEConfig", "VAE", "kl_normal", "vae_loss", "vae_scores"]


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """D_KL[N(μ, diag σ²) ‖ N(0, 1)] per event, summed over the latent dimensions (last axis):

        ½ Σ_j ( μ_j² + σ_j² − 1 − log σ_j² )      (Plehn et al., Eq. 3.11, summed, not averaged, over j),

    ``logvar`` = log σ². Shapes (..., k) → (...). Zero only for μ = 0, σ = 1.
    """
    return 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(-1)


@dataclass
class VAEConfig(ModelConfig):
    """A :class:`VAE`: input and latent sizes, the encoder's hidden widths (the decoder mirrors them),
    the weight β of the KL term, the decoder's fixed Gaussian width σ_x (in the units of x) and the activation."""

    n_in: int = 8
    n_latent: int = 2
    hidden: tuple[int, ...] = (64, 64)
    beta: float = 1.0
    sigma_x: float = 1.0
    activation: str = "relu"

    def check(self) -> None:
        if self.n_latent < 1 or self.sigma_x <= 0 or self.beta < 0:
            raise ValueError(f"need n_latent >= 1, sigma_x > 0, beta >= 0; got {self.n_latent}, {self.sigma_x}, {self.beta}")


class VAE(nn.Module):
    """x (B, n_in) → (μ, log σ²) (B, n_latent) each → z = μ + σ ε → x̂ (B, n_in).

    ``forward(x)`` returns ``(x_hat, mu, logvar)`` with one reparameterised draw of z; ``loss(x)`` the
    negative ELBO of each event (B,) (β-weighted KL).
    """

    config_class = VAEConfig

    def __init__(self, cfg: VAEConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or VAEConfig(**kwargs)
        c = self.cfg
        init = "he" if c.activation == "relu" else "glorot"
        self.encoder = MLP(MLPConfig(n_in=c.n_in, n_out=2 * c.n_latent, hidden=c.hidden, activation=c.activation, init=init))
        self.decoder = MLP(MLPConfig(n_in=c.n_latent, n_out=c.n_in, hidden=tuple(reversed(c.hidden)),
                                     activation=c.activation, init=init))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)       # (B, n_in) -> 2 × (B, n_latent)
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = μ + σ ⊙ ε with ε ∼ N(0, 1) (Eq. 3.10): a draw from N(μ, σ²), differentiable in μ and log σ²."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)                               # (B, n_latent) -> (B, n_in)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Negative ELBO per event (B,) with a β-weighted KL (Eq. 3.9), one draw of z per event."""
        x_hat, mu, logvar = self(x)
        s2 = self.cfg.sigma_x ** 2
        nll = ((x - x_hat) ** 2).sum(-1) / (2 * s2) + 0.5 * self.cfg.n_in * math.log(2 * math.pi * s2)
        return nll + self.cfg.beta * kl_normal(mu, logvar)


def vae_loss(model: VAE, batch) -> torch.Tensor:
    """The loss of :func:`hepcourse.train.fit` for a VAE: the batch mean of :meth:`VAE.loss`. The batch is
    ``(x,)`` or ``(x, ...)``; only x is used."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return model.loss(x).mean()


class _Scores(nn.Module):
    """The two anomaly scores of a VAE as one deterministic output (B, 2), for :func:`hepcourse.train.predict`."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.vae.encode(x)
        recon = ((x - self.vae.decode(mu)) ** 2).sum(-1)       # decoded at the mean of p^E(z|x)
        return torch.stack([recon, kl_normal(mu, logvar)], dim=-1)   # (B, 2)


def vae_scores(model: VAE, x, batch_size: int = 4096) -> dict[str, np.ndarray]:
    """Per-event anomaly scores of a trained VAE, via :func:`hepcourse.train.predict`:
    ``"reconstruction"`` |x − x̂(μ)|² (decoded at the encoder's mean, no sampling) and ``"kl"``, the latent
    score D_KL[p^E(z|x) ‖ N(0, 1)]."""
    from ..train import predict

    out = predict(_Scores(model), np.asarray(x, dtype=np.float32), batch_size=batch_size).astype(np.float64)
    return {"reconstruction": out[:, 0], "kl": out[:, 1]}
