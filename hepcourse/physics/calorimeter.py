"""A toy sampling calorimeter for electromagnetic showers (GFlash-like), with closed-form means, and the
preprocessing of showers for generative networks (per-layer normalisation, dequantisation of the threshold).

Plehn et al. [plehn2022modern], Sec. 4.3.4 learn p(x_shower | E_inc) (Eq. 4.105) for GEANT4 showers; this
module is the cheap stand-in with known answers. Units: GeV; depth in radiation lengths X₀, radius in
Molière radii R_M.

**Longitudinal.** The mean profile is a Gamma distribution in depth t (Longo and Sestili 1975; Grindhammer
and Peters, GFlash, 1993; PDG review "Passage of particles through matter", Eq. 34.36),

    (1/E) dE/dt = b (bt)^{a−1} e^{−bt} / Γ(a),   t_max = (a − 1)/b = ln(E/E_c) + C_e,

with b = 0.5, C_e = −0.5 for electrons and a critical energy E_c. The deposited fractions of the layers
[t_l, t_{l+1}) and of the leakage behind the last layer are Dirichlet-distributed around the Gamma
probabilities m_l(E) (regularised incomplete Gamma functions) with concentration κ_L √(E/GeV): their mean is
exactly m_l(E), their shower-to-shower fluctuations shrink with energy.

**Sampling.** The visible energy is a fraction f_s of the deposit times G, a Gamma variable of mean 1 and
relative width a/√E (the stochastic term of the resolution).

**Lateral.** In each layer, a core and a tail, each with the GFlash radial profile whose containment within r
is F(r) = r²/(r² + R²), mixed with core probability p_l: ring k of [r_k, r_{k+1}) receives
q_{lk} = p_l ΔF_core + (1 − p_l) ΔF_tail on average (the last ring reaches to infinity). The energy of a layer
is split among its rings by a Dirichlet of concentration 1 + n_s E_l/GeV around q_l (n_s "spots" per GeV, the
GFlash picture of a shower as energy spots: fewer spots, larger fluctuations).

**Readout.** Gaussian electronic noise σ_noise per voxel, then a threshold: voxels below it read zero.

Closed forms (before noise and threshold): ⟨x_{lk}⟩ = f_s E m_l(E) q_{lk} (:meth:`Calorimeter.mean_voxels`),
the response ⟨S/E⟩ = f_s (1 − m_leak(E)) and its relative resolution (:meth:`Calorimeter.mean_response`,
:meth:`Calorimeter.resolution`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass
class CaloConfig:
    """Every parameter of the toy calorimeter (energies in GeV)."""

    layer_edges: tuple[float, ...] = (0.0, 3.0, 10.0, 20.0)     # layer boundaries in X₀ (3 layers)
    ring_edges: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 3.5)   # inner radii of the rings in R_M; last ring to ∞
    critical_energy: float = 0.01      # E_c
    b: float = 0.5                     # Gamma slope in 1/X₀
    c_e: float = -0.5                  # t_max = ln(E/E_c) + c_e
    kappa_long: float = 30.0           # Dirichlet concentration of the layer fractions at 1 GeV (∝ √E)
    sampling_fraction: float = 0.9     # f_s
    stochastic: float = 0.10           # a in σ/E = a/√E
    r_core: tuple[float, ...] = (0.4, 0.6, 0.9)     # core radius R per layer (R_M)
    r_tail: tuple[float, ...] = (1.5, 2.0, 2.8)     # tail radius per layer
    p_core: tuple[float, ...] = (0.9, 0.8, 0.65)    # core probability per layer
    spots_per_gev: float = 100.0       # lateral Dirichlet concentration per GeV of layer energy
    noise: float = 0.002               # electronic noise per voxel (GeV)
    threshold: float = 0.01            # readout threshold (GeV)
    e_min: float = 1.0                 # incident energies, log-uniform in [e_min, e_max]
    e_max: float = 100.0

    @property
    def n_layers(self) -> int:
        return len(self.layer_edges) - 1

    @property
    def n_rings(self) -> int:
        return len(self.ring_edges)

    @property
    def n_voxels(self) -> int:
        return self.n_layers * self.n_rings


class Calorimeter:
    """The toy calorimeter: :meth:`simulate` showers (N, n_layers, n_rings) in GeV, and their closed-form means."""

    def __init__(self, cfg: CaloConfig | None = None, **kwargs):
        self.cfg = cfg = cfg or CaloConfig(**kwargs)
        for name in ("r_core", "r_tail", "p_core"):
            if len(getattr(cfg, name)) != cfg.n_layers:
                raise ValueError(f"{name} needs one value per layer ({cfg.n_layers})")
        self.q = self.ring_fractions()                                          # (L, R)

    @property
    def ring_centers(self) -> np.ndarray:
        """A representative radius per ring (R_M): bin centres; the open last ring at its edge + 1 R_M."""
        e = np.asarray(self.cfg.ring_edges, dtype=float)
        return np.r_[0.5 * (e[:-1] + e[1:]), e[-1] + 1.0]

    def ring_fractions(self) -> np.ndarray:
        """q_{lk}: the mean fraction of layer l's energy in ring k, (L, R); rows sum to 1."""
        c = self.cfg
        r = np.r_[np.asarray(c.ring_edges, dtype=float), np.inf]                # (R + 1,)
        q = []
        for rc, rt, p in zip(c.r_core, c.r_tail, c.p_core):
            def F(radius, R):
                with np.errstate(invalid="ignore"):
                    return np.where(np.isinf(radius), 1.0, radius ** 2 / (radius ** 2 + R ** 2))
            q.append(p * np.diff(F(r, rc)) + (1 - p) * np.diff(F(r, rt)))
        return np.array(q)

    def sample_energies(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Incident energies (n,), log-uniform in [e_min, e_max] GeV."""
        return np.exp(rng.uniform(np.log(self.cfg.e_min), np.log(self.cfg.e_max), n))

    # -- closed forms
    def gamma_shape(self, E) -> np.ndarray:
        """a(E) = 1 + b t_max(E), t_max = ln(E/E_c) + C_e."""
        c = self.cfg
        return 1.0 + c.b * (np.log(np.asarray(E, dtype=float) / c.critical_energy) + c.c_e)

    def mean_layer_fractions(self, E) -> np.ndarray:
        """m_l(E): mean deposited fraction of each layer and, last, of the leakage: (N, L + 1), rows sum to 1."""
        a = self.gamma_shape(E)[:, None]                                         # (N, 1)
        t = np.asarray(self.cfg.layer_edges, dtype=float)[None, :] * self.cfg.b  # (1, L + 1)
        cdf = special.gammainc(a, t)                                             # P(a, b t)
        return np.concatenate([np.diff(cdf, axis=1), 1.0 - cdf[:, -1:]], axis=1)

    def mean_voxels(self, E) -> np.ndarray:
        """⟨x_{lk}⟩ = f_s E m_l(E) q_{lk} without noise and threshold: (N, L, R)."""
        E = np.asarray(E, dtype=float)
        m = self.mean_layer_fractions(E)[:, :-1]
        return self.cfg.sampling_fraction * E[:, None, None] * m[:, :, None] * self.q[None]

    def mean_response(self, E) -> np.ndarray:
        """⟨S/E⟩ = f_s (1 − m_leak(E)) (N,), S the sum of all voxels, without noise and threshold."""
        return self.cfg.sampling_fraction * (1.0 - self.mean_layer_fractions(E)[:, -1])

    def resolution(self, E) -> np.ndarray:
        """σ(S)/⟨S⟩ without noise and threshold: S/E = f_s G (1 − ℓ) with G and ℓ independent,
        ⟨G²⟩ = 1 + a²/E and ℓ ~ Beta(κ m, κ (1 − m)), so σ²/⟨S⟩² = (1 + a²/E) ⟨(1 − ℓ)²⟩/(1 − m)² − 1."""
        E = np.asarray(E, dtype=float)
        m = self.mean_layer_fractions(E)[:, -1]
        kappa = self.cfg.kappa_long * np.sqrt(E)
        second = (1 - m) ** 2 + m * (1 - m) / (kappa + 1)
        return np.sqrt((1 + self.cfg.stochastic ** 2 / E) * second / (1 - m) ** 2 - 1)

    # -- the simulation
    def simulate(self, E, rng: np.random.Generator, noise: bool = True, threshold: bool = True) -> np.ndarray:
        """Showers (N, L, R) in GeV for incident energies ``E`` (N,); ``noise``/``threshold`` switch the readout."""
        c = self.cfg
        E = np.asarray(E, dtype=float)
        n = len(E)
        alpha = c.kappa_long * np.sqrt(E)[:, None] * self.mean_layer_fractions(E)     # (N, L + 1)
        frac = _dirichlet(alpha, rng)[:, :-1]                                           # (N, L), leakage dropped
        shape = E / c.stochastic ** 2
        gain = rng.gamma(shape, 1.0 / shape)                                            # mean 1, σ = a/√E
        layer = c.sampling_fraction * E[:, None] * frac * gain[:, None]                 # (N, L)
        conc = (1.0 + c.spots_per_gev * layer)[:, :, None] * self.q[None]               # (N, L, R)
        x = layer[:, :, None] * _dirichlet(conc.reshape(n * c.n_layers, -1), rng).reshape(conc.shape)
        if noise and c.noise > 0:
            x = x + c.noise * rng.standard_normal(x.shape)
        if threshold:
            x = np.where(x >= c.threshold, x, 0.0)
        return x


def _dirichlet(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dirichlet draws for each row of ``alpha`` (N, K), by normalised Gamma variables (vectorised)."""
    g = rng.standard_gamma(alpha)
    s = g.sum(axis=1, keepdims=True)
    return np.where(s > 0, g / np.where(s > 0, s, 1.0), 1.0 / alpha.shape[1])


# ------------------------------------------------------------------------------ preprocessing for generators
def normalize_layers(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer normalisation (Plehn et al., Sec. 4.3.4): showers (N, L, R) → (layer energies (N, L),
    voxel fractions within each layer (N, L, R), rows summing to 1; an empty layer gets uniform fractions)."""
    e = x.sum(axis=2)
    safe = np.where(e > 0, e, 1.0)[:, :, None]
    frac = np.where(e[:, :, None] > 0, x / safe, 1.0 / x.shape[2])
    return e, frac


def denormalize_layers(e: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize_layers`: x_{lk} = E_l · frac_{lk} (fractions renormalised to sum to 1)."""
    return e[:, :, None] * frac / frac.sum(axis=2, keepdims=True)


def dequantize(x: np.ndarray, threshold: float, rng: np.random.Generator) -> np.ndarray:
    """Voxels below ``threshold`` (the zeros of the readout) get a uniform value in (0, threshold): the data
    become continuous, which a density model needs; :func:`apply_threshold` after generation restores the
    sparsity pattern (exactly, on the data: every dequantised voxel stays below the threshold)."""
    noise = threshold * (1.0 - rng.random(x.shape))                           # in (0, threshold]
    noise = np.minimum(noise, np.nextafter(threshold, 0.0))
    return np.where(x < threshold, noise, x)


def apply_threshold(x: np.ndarray, threshold: float) -> np.ndarray:
    """The readout threshold: voxels below it read zero."""
    return np.where(x >= threshold, x, 0.0)


class ShowerPreprocessor:
    """Showers ↔ unbounded, standardised features for a density network, and the condition.

    Features (L·R per shower), after :func:`dequantize` and :func:`normalize_layers`: the response
    log(S/E_inc) with S = Σ_l E_l (first, so that the resolution is one feature's width); the layer energies as
    log-ratios log(E_l/E_m) to the middle layer m = L // 2 (L − 1 numbers); per layer the log-ratios
    log(x_{lk}/x_{l0}) of the rings k ≥ 1 to the core. Each group of log-ratios (an additive log-ratio
    transform) is a bijection between fractions that sum to one and unbounded real numbers. The condition
    is log(E_inc/GeV) mapped to [−1, 1]. :meth:`fit` takes the standardisation from training showers.
    """

    def __init__(self, n_layers: int, n_rings: int, threshold: float, e_min: float = 1.0, e_max: float = 100.0):
        self.n_layers, self.n_rings, self.threshold = n_layers, n_rings, threshold
        self.log_e_mid = 0.5 * (np.log(e_min) + np.log(e_max))
        self.log_e_half = 0.5 * (np.log(e_max) - np.log(e_min))
        self.mean = self.std = None

    def context(self, E) -> np.ndarray:
        """(N, 1): log E_inc mapped to [−1, 1]."""
        return ((np.log(np.asarray(E, dtype=float)) - self.log_e_mid) / self.log_e_half)[:, None]

    def _raw(self, x, E, rng):
        x = dequantize(x, self.threshold, rng)
        e, frac = normalize_layers(x)
        m = self.n_layers // 2
        others = [l for l in range(self.n_layers) if l != m]
        log_s = np.log(e.sum(1) / np.asarray(E, dtype=float))[:, None]               # (N, 1)
        layer_alr = np.log(e[:, others] / e[:, [m]])                                # (N, L − 1)
        ring_alr = np.log(frac[:, :, 1:] / frac[:, :, :1]).reshape(len(x), -1)      # (N, L (R − 1))
        return np.concatenate([log_s, layer_alr, ring_alr], axis=1)

    def fit(self, x, E, rng: np.random.Generator) -> "ShowerPreprocessor":
        raw = self._raw(x, E, rng)
        self.mean, self.std = raw.mean(0), raw.std(0)
        return self

    def features(self, x, E, rng: np.random.Generator) -> np.ndarray:
        """Showers (N, L, R) → standardised features (N, L·R)."""
        return (self._raw(x, E, rng) - self.mean) / self.std

    def showers(self, f, E) -> np.ndarray:
        """Features (N, L·R) → showers (N, L, R) with the threshold applied."""
        f = np.asarray(f, dtype=float) * self.std + self.mean
        L, R, n = self.n_layers, self.n_rings, len(f)
        m = self.n_layers // 2
        S = np.exp(np.clip(f[:, 0], -30, 5)) * np.asarray(E, dtype=float)              # (N,)
        layer_logits = np.insert(np.clip(f[:, 1:L], -60, 60), m, 0.0, axis=1)          # (N, L)
        e = S[:, None] * _softmax(layer_logits)
        ring_logits = np.concatenate([np.zeros((n, L, 1)), np.clip(f[:, L:].reshape(n, L, R - 1), -60, 60)], 2)
        return apply_threshold(denormalize_layers(e, _softmax(ring_logits)), self.threshold)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)
