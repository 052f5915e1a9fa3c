"""Generative adversarial networks: the GAN and the Wasserstein GAN with gradient penalty (chapter 07).

A generator G maps latent noise r ~ N(0, 1) to events x = G(r) (Plehn et al. [plehn2022modern], Sec. 4,
Eq. 4.1); a discriminator D(x) ∈ (0, 1) learns to tell them from training events. With logits
D = sigmoid(d), the discriminator minimises (Eq. 4.18)

    L_D = ⟨−log D(x)⟩_data + ⟨−log(1 − D(G(r)))⟩_r,

whose optimum is the likelihood ratio D_opt = p_data / (p_data + p_model) (Eq. 4.19), and the
generator minimises the non-saturating loss L_G = ⟨−log D(G(r))⟩_r (Eq. 4.21). At the Nash equilibrium
p_model = p_data, D = ½ everywhere, L_D = 2 log 2 and L_G = log 2 (Eqs. 4.25–4.26).

The WGAN replaces the discriminator by a critic D(x) ∈ ℝ whose loss estimates the Wasserstein distance
W = max_D [⟨D⟩_data − ⟨D⟩_model] over 1-Lipschitz D (Eq. 4.27). The Lipschitz condition is imposed softly
by the gradient penalty of Gulrajani et al. 2017 (arXiv:1704.00028, Eq. 3),

    L_critic = ⟨D(G(r))⟩ − ⟨D(x)⟩ + λ ⟨(|∇_x̂ D(x̂)| − 1)²⟩,   x̂ = ε x + (1 − ε) G(r),  ε ~ U(0, 1),

and the generator minimises −⟨D(G(r))⟩. A term λ_MMD · MMD²(observable of G(r), of the data) can be added
to the generator loss (Eq. 4.33), as Plehn et al., Sec. 4.2.2, do for the narrow top-mass peak.

Both players are :class:`~hepcourse.models.mlp.MLP` s. The GAN standardises its events with the training
data's mean and width (buffers set by :func:`train_gan`), so :meth:`GAN.sample` returns physical units.
A GAN's two players take alternating steps with two optimisers, which the course's one-loss loop
:func:`hepcourse.train.fit` does not do: :func:`train_gan` is that loop, written to be read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .. import config
from ..train import TensorLoader, _show_progress, TrainConfig
from .config import ModelConfig
from .mlp import MLP, MLPConfig

LOSSES = ("gan", "wgan-gp")


@dataclass
class GANConfig(ModelConfig):
    """Every hyperparameter of a :class:`GAN` and of its training by :func:`train_gan`."""

    n_data: int = 1                        # dimension of an event
    n_latent: int = 4                      # dimension of the latent noise r ~ N(0, 1)
    hidden: tuple[int, ...] = (64, 64)     # hidden widths of both generator and discriminator
    activation: str = "leaky_relu"
    loss: str = "gan"                      # "gan" (Eqs. 4.18, 4.21) or "wgan-gp" (Eq. 4.27 + gradient penalty)
    gp_weight: float = 10.0                # λ of the gradient penalty (wgan-gp)
    gp_one_sided: bool = False             # penalise only |∇D| > 1 (see gradient_penalty; use it in one dimension)
    n_critic: int = 1                      # discriminator steps per generator step (5 is usual for wgan-gp)
    lr_generator: float = 1e-3
    lr_discriminator: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.9)   # Adam's β₁, β₂ (β₁ = 0.5 damps the oscillations of the game)
    batch_size: int = 256
    steps: int = 2000                      # generator steps
    mmd_weight: float = 0.0                # λ_MMD of Eq. 4.33 (0: no MMD term)
    mmd_bandwidth: float = 1.0             # kernel width of the MMD term, in the units of the observable
    seed: int = 0

    def check(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.n_critic < 1 or self.steps < 1 or self.batch_size < 2:
            raise ValueError("n_critic and steps must be at least 1, batch_size at least 2")


class GAN(nn.Module):
    """Generator (n_latent → n_data) and discriminator or critic (n_data → 1 logit), both MLPs.

    ``model(r)`` is the generator in data units; :meth:`sample` draws the noise itself.
    """

    config_class = GANConfig

    def __init__(self, cfg: GANConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or GANConfig(**kwargs)
        c = self.cfg
        self.generator = MLP(MLPConfig(n_in=c.n_latent, n_out=c.n_data, hidden=c.hidden, activation=c.activation))
        self.discriminator = MLP(MLPConfig(n_in=c.n_data, n_out=1, hidden=c.hidden, activation=c.activation))
        self.register_buffer("shift", torch.zeros(c.n_data))
        self.register_buffer("scale", torch.ones(c.n_data))

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """Events G(r) (B, n_data) in data units from latent noise r (B, n_latent)."""
        return self.generator(r) * self.scale + self.shift

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's logit d(x) (B,) (D = sigmoid(d)), or the WGAN critic's value, for events in data units."""
        return self.discriminator((x - self.shift) / self.scale).squeeze(-1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> np.ndarray:
        """``n`` generated events (n, n_data) as a NumPy array, in batches of 65 536 on the model's device."""
        dev = self.shift.device
        out = []
        for start in range(0, n, 65_536):
            k = min(65_536, n - start)
            r = torch.randn(k, self.cfg.n_latent, generator=generator).to(dev)
            out.append(self(r).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.cfg.n_data), dtype=np.float32)


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """L_D = ⟨−log D(x)⟩_data + ⟨−log(1 − D(G(r)))⟩ (Eq. 4.18) from logits, computed stably.

    2 log 2 = 1.386 at the Nash equilibrium (D = ½ everywhere, Eq. 4.25)."""
    return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss L_G = ⟨−log D(G(r))⟩ (Eq. 4.21), log 2 at the equilibrium."""
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None, one_sided: bool = False) -> torch.Tensor:
    """⟨(|∇_x̂ D(x̂)| − 1)²⟩ at x̂ = ε x + (1 − ε) x̃ on the straight lines between real and generated
    events, ε ~ U(0, 1) per event (Gulrajani et al. 2017, Eq. 3). ``critic`` maps (B, F) → (B,).

    ``eps`` (B,) fixes the interpolation (for tests); the graph is kept (``create_graph``) so that the
    penalty trains the critic. For a linear critic D(x) = a·x it is (|a| − 1)² whatever the events.

    ``one_sided``: penalise only gradients steeper than 1, ⟨max(0, |∇D| − 1)²⟩ (the "one-sided penalty" that
    Gulrajani et al. mention). In one dimension the two-sided penalty traps the critic: to turn its slope
    from −1 to +1 (when the generator has run past the data) it must pass through slope 0, which costs λ;
    the critic can then sit at the wrong sign. In two or more dimensions the gradient can rotate instead.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    eps = eps.reshape(-1, *([1] * (real.dim() - 1)))                   # (B, 1, ...)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)       # (B, F)
    d = critic(x_hat)                                                   # (B,)
    (grad,) = torch.autograd.grad(d.sum(), x_hat, create_graph=True)   # (B, F)
    excess = grad.flatten(1).norm(dim=1) - 1.0                         # (B,)
    return ((excess.clamp_min(0.0) if one_sided else excess) ** 2).mean()


def mmd2_loss(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """The unbiased MMD² of two batches with the Gaussian kernel exp(−|x − y|²/2h²) (Eq. 4.32), in torch so
    that it trains a generator (Eq. 4.33); :func:`hepcourse.metrics.mmd2_unbiased` is the NumPy version
    used for evaluation. ``x`` (B, F) or (B,), ``y`` (B', F) or (B',)."""
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    n, m = len(x), len(y)

    def k(a, b):
        return torch.exp(-torch.cdist(a, b).pow(2) / (2 * bandwidth**2))

    kxx, kyy = k(x, x), k(y, y)
    return ((kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
            - 2 * k(x, y).mean())


@dataclass
class GANHistory:
    """What :func:`train_gan` returns: the mean losses of each logged block of steps, and the time."""

    step: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)    # discriminator (or critic, without the penalty) loss
    g_loss: list[float] = field(default_factory=list)    # generator loss (without the MMD term)
    mmd2: list[float] = field(default_factory=list)      # the MMD² term, where used
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"trained {self.step[-1] if self.step else 0} generator steps in {self.seconds:.1f} s; "
                f"last losses: discriminator {self.d_loss[-1]:.4f}, generator {self.g_loss[-1]:.4f}")


def train_gan(model: GAN, data, observable: Callable[[torch.Tensor], torch.Tensor] | None = None,
              device: torch.device | None = None, progress: bool | None = None, log_every: int = 50) -> GANHistory:
    """Train ``model`` on ``data`` (N, n_data) for ``model.cfg.steps`` generator steps; return the losses.

    Each generator step follows ``n_critic`` discriminator steps, each on a fresh batch of training events
    (reshuffled every epoch) and a fresh batch of generated ones:

    1. discriminator: minimise :func:`discriminator_loss` (``loss="gan"``), or ⟨D(G(r))⟩ − ⟨D(x)⟩ +
       λ · :func:`gradient_penalty` (``"wgan-gp"``), with the generator's output detached;
    2. generator: minimise :func:`generator_loss` (or −⟨D(G(r))⟩), plus ``mmd_weight`` ·
       :func:`mmd2_loss` of ``observable(events)`` between generated and training batch when both are given.

    The model's ``shift``/``scale`` are set to the training data's mean and standard deviation first.
    Seeds with ``cfg.seed``; device from :func:`hepcourse.config.device`; a text progress bar unless in CI.
    """
    c = model.cfg
    device = device or config.device()
    config.seed_everything(c.seed)
    x_all = torch.as_tensor(np.asarray(data, dtype=np.float32)).reshape(len(data), -1)   # (N, n_data)
    if x_all.shape[1] != c.n_data:
        raise ValueError(f"the GAN expects events with {c.n_data} features, got {x_all.shape[1]}")
    with torch.no_grad():
        model.shift.copy_(x_all.mean(0))
        model.scale.copy_(x_all.std(0).clamp_min(1e-8))
    model.to(device).train()
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=c.lr_generator, betas=c.betas)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=c.lr_discriminator, betas=c.betas)
    loader = TensorLoader(x_all, batch_size=c.batch_size, seed=c.seed)
    batches = iter(())

    def next_batch() -> torch.Tensor:
        nonlocal batches
        batch = next(batches, None)
        if batch is None or len(batch[0]) < 2:
            batches = iter(loader)
            batch = next(batches)
        return batch[0].to(device)

    history = GANHistory()
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    use_mmd = c.mmd_weight > 0 and observable is not None
    start = time.perf_counter()
    show = _show_progress(TrainConfig(progress=progress))
    for step in tqdm(range(1, c.steps + 1), desc="generator steps", disable=not show, ascii=True, mininterval=2):
        for _ in range(c.n_critic):                                       # 1. discriminator / critic
            real = next_batch()                                           # (B, n_data)
            fake = model(torch.randn(len(real), c.n_latent, device=device)).detach()
            d_real, d_fake = model.critic(real), model.critic(fake)       # (B,), (B,)
            if c.loss == "gan":
                d_loss = discriminator_loss(d_real, d_fake)
                total = d_loss
            else:
                d_loss = d_fake.mean() - d_real.mean()
                total = d_loss + c.gp_weight * gradient_penalty(model.critic, real, fake, one_sided=c.gp_one_sided)
            opt_d.zero_grad(set_to_none=True)
            total.backward()
            opt_d.step()
        real = next_batch()                                               # 2. generator
        fake = model(torch.randn(len(real), c.n_latent, device=device))
        d_fake = model.critic(fake)
        g_loss = generator_loss(d_fake) if c.loss == "gan" else -d_fake.mean()
        total = g_loss
        mmd = torch.zeros((), device=device)
        if use_mmd:
            mmd = mmd2_loss(observable(fake), observable(real), c.mmd_bandwidth)
            total = g_loss + c.mmd_weight * mmd
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        opt_g.step()
        sums += torch.stack([d_loss.detach(), g_loss.detach(), mmd.detach()]).double()
        if step % log_every == 0 or step == c.steps:
            k = (step - 1) % log_every + 1
            means = (sums / k).tolist()
            history.step.append(step)
            history.d_loss.append(means[0])
            history.g_loss.append(means[1])
            if use_mmd:
                history.mmd2.append(means[2])
            sums.zero_()
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
