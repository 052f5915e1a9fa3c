"""A particle transformer: self-attention with pairwise interaction features as a bias (ParT-like).

Self-attention updates each particle from all others (Plehn et al. [plehn2022modern], Sec. 2.2.3, Eq. 2.68, with the
usual 1/√d_k that the text leaves out), here with a bias U_ij that depends on the pair (Qu,
Li and Qian 2022, Eq. 2):

    z_i = Σ_j a_ij W^V x_j,    a_ij = Softmax_j[ (W^Q x_i) · (W^K x_j) / √d_k + U_ij ],

one such map per head h. U^h_ij is a small MLP of the pairwise features of
:func:`hepcourse.data.constituents.pairwise_features` (ln Δ, ln k_T, ln z, ln m²), so the network
is told how far apart, how hard and how massive each pair is before it learns anything. Particle
and pair features enter standardised (:class:`hepcourse.models.layers.Standardise`). A padded
key j gets a_ij = 0 exactly (its score is −∞: the key-padding mask). Without positional
encodings the particle blocks are permutation equivariant.

The jet is read out by class attention (Touvron et al. 2021, as in ParT): a learned class token
attends to the particles (but they do not attend to it), and a linear layer maps it to the logit.
The result is permutation invariant.

Each block is pre-LayerNorm: x ← x + MHA(LN x), x ← x + FFN(LN x). LayerNorm acts on each
particle alone, so it does not mix padded particles in (unlike batch normalisation).
ParT itself (:meth:`TransformerConfig.paper`) has d = 128, 8 heads, 8 particle and 2 class blocks
(2.1M parameters); the CPU default is d = 32, 4 heads, 2 + 1 blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.constituents import PAIR_INPUTS, PAIR_SHIFT_SCALE, PARTICLE_INPUTS, PARTICLE_SHIFT_SCALE, pairwise_features
from .config import ModelConfig
from .layers import Standardise, layer_stack

__all__ = ["TransformerConfig", "ParticleTransformer", "attention", "fused_attention"]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None,
              key_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention with an additive bias and a key-padding mask, written out.

    q (B, H, Nq, d), k and v (B, H, Nk, d), bias (B, H, Nq, Nk) or None, key_mask (B, Nk) bool
    (True = a real key) → (B, H, Nq, d). Every query needs at least one real key.

    The reference for :func:`fused_attention`, which the network uses (``tests/test_models_ch04.py``
    checks that the two agree).
    """
    scores = (q / math.sqrt(q.shape[-1])) @ k.transpose(-1, -2)        # (B, H, Nq, Nk); q scaled: fewer numbers than the scores
    if bias is not None:
        scores = scores + bias
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return torch.softmax(scores, dim=-1) @ v                             # (B, H, Nq, d)


def fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None,
                    key_mask: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`attention` through PyTorch's ``F.scaled_dot_product_attention``: the same result, with the
    fused kernels of the GPU (memory-efficient attention) where they apply. The bias and the key mask
    enter as one additive float mask, −∞ at padded keys."""
    mask = None
    if key_mask is not None:
        mask = torch.zeros(key_mask.shape, dtype=q.dtype, device=q.device).masked_fill(~key_mask, float("-inf"))
        mask = mask[:, None, None, :]                                      # (B, 1, 1, Nk)
    if bias is not None:
        mask = bias.to(q.dtype) if mask is None else bias.to(q.dtype) + mask   # (B, H, Nq, Nk)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)         # (B, H, Nq, d)


class MultiHeadAttention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        if d % heads:
            raise ValueError(f"the width d = {d} must be a multiple of the number of heads {heads}")
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))

    def split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, d = t.shape
        return t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)    # (B, H, N, d/H)

    def forward(self, x_q, x_kv, bias=None, key_mask=None):
        z = fused_attention(self.split(self.q(x_q)), self.split(self.k(x_kv)), self.split(self.v(x_kv)), bias, key_mask)
        b, h, n, dh = z.shape
        return self.out(z.transpose(1, 2).reshape(b, n, h * dh))                 # (B, Nq, d)


class Block(nn.Module):
    """Pre-LN transformer block: x ← x + MHA(LN x, LN kv), x ← x + FFN(LN x)."""

    def __init__(self, d: int, heads: int, ffn: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = MultiHeadAttention(d, heads)
        self.ffn = nn.Sequential(nn.Linear(d, ffn), nn.GELU(), nn.Linear(ffn, d))

    def forward(self, x, kv=None, bias=None, key_mask=None):
        h = self.ln1(x)
        kv = h if kv is None else self.ln1(kv)
        x = x + self.attn(h, kv, bias, key_mask)
        return x + self.ffn(self.ln2(x))


@dataclass
class TransformerConfig(ModelConfig):
    """A :class:`ParticleTransformer`. CPU-sized defaults; :meth:`paper` is ParT's size."""

    n_in: int = len(PARTICLE_INPUTS)
    n_pair: int = len(PAIR_INPUTS)
    d: int = 32
    heads: int = 4
    layers: int = 2               # particle self-attention blocks
    class_layers: int = 1         # class-attention blocks
    ffn: int = 64
    pair_hidden: tuple[int, ...] = (16,)
    pair_bias: bool = True        # False: plain attention (no U_ij)

    @classmethod
    def paper(cls, **kwargs) -> "TransformerConfig":
        """ParT (Qu et al. 2022): d = 128, 8 heads, 8 + 2 blocks, FFN 512, pair embedding (64, 64, 64)."""
        return cls(d=128, heads=8, layers=8, class_layers=2, ffn=512, pair_hidden=(64, 64, 64), **kwargs)


class ParticleTransformer(nn.Module):
    """``forward(x, p4, mask)``: x (B, N, n_in), p4 (B, N, 4) GeV, mask (B, N) → logits (B,)."""

    config_class = TransformerConfig

    def __init__(self, cfg: TransformerConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg = cfg or TransformerConfig(**kwargs)
        self.standardise = Standardise(PARTICLE_SHIFT_SCALE[:cfg.n_in])
        self.standardise_pairs = Standardise(PAIR_SHIFT_SCALE[:cfg.n_pair])
        self.embed = layer_stack([cfg.n_in, cfg.d, cfg.d], final_activation=False)
        self.pair_embed = (layer_stack([cfg.n_pair, *cfg.pair_hidden, cfg.heads * cfg.layers], final_activation=False)
                           if cfg.pair_bias else None)
        self.blocks = nn.ModuleList(Block(cfg.d, cfg.heads, cfg.ffn) for _ in range(cfg.layers))
        self.class_blocks = nn.ModuleList(Block(cfg.d, cfg.heads, cfg.ffn) for _ in range(cfg.class_layers))
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d))
        self.norm = nn.LayerNorm(cfg.d)
        self.head = nn.Linear(cfg.d, 1)

    def pair_bias(self, p4: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor | None]:
        """U^h_ij for every particle block: a list of (B, H, N, N) tensors (None without pair bias)."""
        if self.pair_embed is None:
            return [None] * self.cfg.layers
        u = pairwise_features(p4, mask)                                   # (B, N, N, 4), zero for padded pairs
        n = mask.shape[1]
        pair = mask[:, :, None] & mask[:, None, :] & ~torch.eye(n, dtype=torch.bool, device=mask.device)
        u = torch.where(pair[..., None], self.standardise_pairs(u), 0.0)
        u = self.pair_embed(u)                                            # (B, N, N, H·L)
        u = u.permute(0, 3, 1, 2)                                         # (B, H·L, N, N)
        return list(u.split(self.cfg.heads, dim=1))                       # L × (B, H, N, N)

    def forward(self, x: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask[..., None]
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        x = self.standardise(torch.where(keep, x, zero))
        h = torch.where(keep, self.embed(x), zero)                             # (B, N, d)
        for block, bias in zip(self.blocks, self.pair_bias(p4, mask)):
            h = torch.where(keep, block(h, bias=bias, key_mask=mask), zero)
        c = self.cls.expand(len(x), -1, -1)                                    # (B, 1, d)
        for block in self.class_blocks:
            c = block(c, kv=torch.cat([c, h], dim=1),
                      key_mask=torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1))
        return self.head(self.norm(c[:, 0]))[:, 0]                            # (B,)
