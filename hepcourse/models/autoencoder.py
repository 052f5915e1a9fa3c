"""The autoencoder: a network that compresses an event and reconstructs it, for anomaly detection.

An encoder maps x ∈ R^n to a latent z ∈ R^k with k < n (the bottleneck), a decoder maps z back,
and training minimises the reconstruction error (Plehn et al. [plehn2022modern], Sec. 3.2.1, Eqs. 3.7–3.8)

    L = ⟨ |x − x̂|² ⟩,    x̂ = f_dec(f_enc(x)) .

Trained on background only, the per-event error |x − x̂|² is an anomaly score: events unlike the
training data are reconstructed worse. With no hidden layers (``hidden=()``) both maps are affine
and the optimum is principal component analysis: the decoder spans the k leading eigenvectors of the
covariance of x, and the mean error is the sum of the n − k discarded eigenvalues (Baldi and Hornik
1989). Gradient descent reaches it slowly: an encoder weight along a discarded direction costs only
that direction's small variance, so it decays at that rate. With tied weights (``tied=True``, the
decoder's matrix the transpose of the encoder's, x̂ = Wᵀ(W x + b) + b', as in Oja's rule) the projection is
learned directly and training converges to PCA within a few epochs. The score then measures the distance from a linear subspace, which shows the *complexity
bias* exactly: a model of a simple (low-dimensional) class flags a richer class, not the other way
round (Plehn et al., Sec. 3.2.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .config import ModelConfig
from .mlp import MLP, MLPConfig

__all__ = ["AutoencoderConfig", "Autoencoder", "reconstruction_loss", "reconstruction_error"]


@dataclass
class AutoencoderConfig(ModelConfig):
    """An :class:`Autoencoder`: input and latent sizes, the encoder's hidden widths (the decoder mirrors
    them; ``()`` gives the linear autoencoder, i.e. PCA), and the activation."""

    n_in: int = 8
    n_latent: int = 2
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    tied: bool = False        # linear autoencoder only: the decoder's matrix is the encoder's transpose

    def check(self) -> None:
        if not 0 < self.n_latent:
            raise ValueError(f"n_latent must be positive, got {self.n_latent}")
        if self.tied and self.hidden:
            raise ValueError("tied weights need a linear autoencoder (hidden=())")


class Autoencoder(nn.Module):
    """x (B, n_in) → z = encoder(x) (B, n_latent) → x̂ = decoder(z) (B, n_in); ``forward`` returns x̂."""

    config_class = AutoencoderConfig

    def __init__(self, cfg: AutoencoderConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or AutoencoderConfig(**kwargs)
        c = self.cfg
        init = "he" if c.activation == "relu" else "glorot"
        self.encoder = MLP(MLPConfig(n_in=c.n_in, n_out=c.n_latent, hidden=c.hidden, activation=c.activation, init=init))
        if c.tied:                                # x̂ = W z + b with W the transpose of the encoder's (k, n) matrix
            self.decoder_bias = nn.Parameter(torch.zeros(c.n_in))
            nn.init.orthogonal_(self.encoder.layers[0].weight)    # W Wᵀ = 1: a projection from the start
        else:
            self.decoder = MLP(MLPConfig(n_in=c.n_latent, n_out=c.n_in, hidden=tuple(reversed(c.hidden)),
                                         activation=c.activation, init=init))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)                    # (B, n_in) -> (B, n_latent)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if self.cfg.tied:
            return nn.functional.linear(z, self.encoder.layers[0].weight.t(), self.decoder_bias)   # (B, n_in)
        return self.decoder(z)                    # (B, n_latent) -> (B, n_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))        # (B, n_in)


def reconstruction_loss(model: nn.Module, batch) -> torch.Tensor:
    """The loss of :func:`hepcourse.train.fit` for an autoencoder: the batch mean of |x − x̂|² (Eq. 3.8,
    summed over features). The batch is ``(x,)`` or ``(x, ...)``; only x is used."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return ((model(x) - x) ** 2).sum(-1).mean()


def reconstruction_error(model: nn.Module, x, batch_size: int = 4096) -> np.ndarray:
    """The anomaly score |x − x̂|² of every event (N,), summed over the features, with x̂ from
    :func:`hepcourse.train.predict` (batched, on the compute device, no gradients)."""
    from ..train import predict

    x = np.asarray(x, dtype=np.float32)
    x_hat = predict(model, x, batch_size=batch_size)
    return ((x_hat.astype(np.float64) - x) ** 2).sum(-1)
