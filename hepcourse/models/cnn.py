"""A convolutional network (CNN) for jet images, with optional circular padding in φ.

A convolutional layer maps feature maps x^(l) (l = 0 … C_in − 1) to feature maps (Plehn et al. [plehn2022modern],
Sec. 2.1.2, Eqs. 2.21–2.22)

    x'^(k)_ij = ReLU( Σ_l Σ_{r,s} W^(kl)_rs x^(l)_{i+r, j+s} + b^(k) ),   k = 0 … C_out − 1,

with one small K × K kernel W^(kl) per pair of maps, shared by all pixels: C_out (C_in K² + 1)
parameters whatever the image size (Eq. 2.25). Padding the input by (K − 1)/2 pixels on each side
keeps the image size. *Zero padding* (Eq. 2.20) treats the border as empty. For a coordinate that
is periodic, like the azimuth φ of a full calorimeter image, *circular padding* fills the border
with the pixels from the other side, and the layer becomes exactly equivariant under shifts by
whole pixels in φ,

    f(T_k x) = T_k f(x),   (T_k x)_{·, i, ·} = x_{·, (i − k) mod N_φ, ·}

(the applications text on symmetric architectures [apps_a_symmetry], item A1). Preprocessed jet images (:mod:`hepcourse.data.images`)
cover only ±0.8 around the jet axis, where φ' is not periodic: they use zero padding, and the
circular version is for images that cover the whole azimuth.

Layout: images are (B, C, H, W) with H along φ (rows) and W along η (columns), as in
:mod:`hepcourse.data.images`; circular padding acts on H only, η is always zero-padded.

:class:`CNN` stacks convolutional layers (ReLU after each, 2 × 2 max-pooling after the layers in
``pool_after``), flattens (Eq. 2.23) and ends in fully connected layers (Eq. 2.24) with one logit.
:meth:`CNNConfig.paper` is the competitive CNN of the top-tagging comparison as Plehn et al. describe
it (Sec. 2.1.3: "four convolutions layers and 64 feature maps", about 610k parameters): with
4 × 4 kernels, pooling after layers 2 and 4 and dense layers of 64, 256 and 256 nodes on 37 × 37
images it has 612k parameters. (Our reading of their Refs. [17, 18], Macaluso and Shih,
arXiv:1803.00107, and Butter et al., arXiv:1902.09914; the text gives only the numbers quoted.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from .config import ModelConfig


def pad_phi_eta(x: torch.Tensor, kernel_size: int, circular_phi: bool) -> torch.Tensor:
    """Pad (B, C, H, W) for a K × K 'same' convolution: H (φ) circularly or with zeros, W (η) with
    zeros; (K − 1)//2 before and K//2 after, so even kernels work too."""
    lo, hi = (kernel_size - 1) // 2, kernel_size // 2
    if circular_phi:
        x = F.pad(x, (0, 0, lo, hi), mode="circular")      # (B, C, H + K − 1, W): φ wraps around
        return F.pad(x, (lo, hi, 0, 0))                     # (B, C, H + K − 1, W + K − 1): zeros in η
    return F.pad(x, (lo, hi, lo, hi))                       # zeros on all sides (Eq. 2.20)


class PhiConv2d(nn.Module):
    """A K × K convolution that keeps the image size, with circular padding along φ (H) and zero
    padding along η (W) when ``circular_phi``; zero padding on all sides otherwise."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, circular_phi: bool = True):
        super().__init__()
        self.kernel_size, self.circular_phi = kernel_size, circular_phi
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(pad_phi_eta(x, self.kernel_size, self.circular_phi))   # (B, C_out, H, W)


@dataclass
class CNNConfig(ModelConfig):
    """Architecture of a :class:`CNN`. The default is sized for a CPU (53k parameters, 1 s per 2000
    images of 40 × 40 pixels per training epoch on one core)."""

    image_size: int = 40                     # pixels per side (H = W)
    in_channels: int = 1
    channels: tuple[int, ...] = (8, 8, 8, 8)  # feature maps of each convolutional layer
    kernel_size: int = 3
    pool_after: tuple[int, ...] = (0, 2)     # 2 × 2 max-pooling after these layers (0-based)
    dense: tuple[int, ...] = (64,)           # hidden widths of the fully connected part
    circular_phi: bool = False               # circular padding along φ (H); else zeros everywhere
    dropout: float = 0.0                     # dropout before each dense layer
    input_scale: float = 100.0               # fixed factor on the input: pixels of images normalised to sum 1
                                             # are ≲ 0.5, and ×100 brings the hard ones to O(1–50)

    def check(self) -> None:
        if any(p >= len(self.channels) or p < 0 for p in self.pool_after):
            raise ValueError(f"pool_after {self.pool_after} refers to layers beyond {len(self.channels)}")

    @classmethod
    def paper(cls, image_size: int = 37, **kwargs) -> "CNNConfig":
        """The competitive CNN of Plehn et al. [plehn2022modern], Sec. 2.1.3 (612k parameters on 37 × 37 images)."""
        return cls(image_size=image_size, channels=(64, 64, 64, 64), kernel_size=4, pool_after=(1, 3),
                   dense=(64, 256, 256), **kwargs)

    @property
    def flat_size(self) -> int:
        """Length of the flattened feature maps after the last convolutional layer (Eq. 2.23)."""
        side = self.image_size
        for _ in self.pool_after:
            side //= 2
        return self.channels[-1] * side * side


class CNN(nn.Module):
    """Jet-image classifier: image (B, H, W) or (B, C, H, W) → logit (B, 1).

    ``forward(x, return_features=True)`` also returns the feature maps after each convolutional
    layer (after its ReLU and pooling), to look at what the layers respond to (Plehn et al. [plehn2022modern], Fig. 14).
    """

    config_class = CNNConfig

    def __init__(self, cfg: CNNConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or CNNConfig(**kwargs)
        c = self.cfg
        widths = (c.in_channels, *c.channels)
        self.convs = nn.ModuleList(PhiConv2d(a, b, c.kernel_size, c.circular_phi) for a, b in zip(widths[:-1], widths[1:]))
        dense = (c.flat_size, *c.dense, 1)
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dense[:-1], dense[1:]))
        self.dropout = nn.Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, return_features: bool = False):
        if x.dim() == 3:
            x = x.unsqueeze(1)                                # (B, 1, H, W)
        x = x * self.cfg.input_scale
        features = []
        for k, conv in enumerate(self.convs):
            x = F.relu(conv(x))                               # (B, C_k, H, W)
            if k in self.cfg.pool_after:
                x = F.max_pool2d(x, 2)                        # (B, C_k, H/2, W/2)
            features.append(x)
        x = x.flatten(1)                                      # (B, C · H · W)
        for layer in self.dense[:-1]:
            x = F.relu(layer(self.dropout(x)))                # (B, width)
        out = self.dense[-1](x)                               # (B, 1): the logit
        return (out, features) if return_features else out

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def saliency(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Gradient of the logit with respect to each input pixel, ∂z/∂x_ij, per image (B, H, W).

    The simplest "what does the network look at" map (Simonyan et al., arXiv:1312.6034): where it is
    large, a small change of the pixel changes the output most. Averaged over many images it
    complements the pixel–output correlation of Plehn et al. [plehn2022modern], Eq. (2.26).
    """
    x = images.detach().clone().requires_grad_(True)
    grad, = torch.autograd.grad(model(x).sum(), x)            # each logit depends on its own image only
    return grad.reshape(images.shape[0], *images.shape[-2:])
