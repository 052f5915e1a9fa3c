"""Binned likelihoods with nuisance parameters, on pyhf: templates, significance, expected limits.

An LHC analysis does not stop at a classifier's ROC curve: it histograms the classifier's output in
data, fits templates of signal and background to it, and quotes a significance or a limit on the
signal strength μ, with every systematic uncertainty a nuisance parameter of the likelihood
(Plehn et al. [main text], Sec. 1.1.5; Cranmer et al., HistFactory, 2012). For bins b with expected
signal s_b and background b_b, and nuisance parameters α with Gaussian constraints,

    L(μ, α) = Π_b Pois( n_b | μ s_b(α) + b_b(α) ) · Π_k N(0 | α_k, 1),

where a *shape systematic* moves each template between its −1σ and +1σ variations as α goes from
−1 to +1 (``histosys``, linear interpolation). The profile-likelihood ratio
λ(μ) = L(μ, α̂̂(μ)) / L(μ̂, α̂) gives the discovery test statistic q₀ = −2 ln λ(0) and, for μ̂ ≥ 0,
the median expected significance Z = √q₀ on the Asimov data set, the data equal to their
expectation (Cowan, Cranmer, Gross, Vitells 2011). For one bin without systematics this is
Z_A = √(2[(s+b) ln(1+s/b) − s]) (:func:`hepcourse.metrics.asimov_significance`).

pyhf (Heinrich, Feickert, Stark, Cranmer) is the field's pure-Python implementation of HistFactory;
this module only builds its models from a classifier's output and asks it the two questions of an
analysis: how significant would the signal be, and what μ could be excluded without it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["Templates", "templates", "model", "asimov_data", "discovery_significance", "expected_upper_limit"]


@dataclass
class Templates:
    """Expected event counts per bin of an observable (a tagger's output), for signal and background,
    with optional ±1σ shape variations of a systematic (``None`` if there is none)."""

    edges: np.ndarray                        # (K + 1,) bin edges
    signal: np.ndarray                       # (K,) expected signal counts
    background: np.ndarray                   # (K,)
    signal_up: np.ndarray | None = None      # (K,) the templates with the systematic at +1σ and −1σ
    signal_down: np.ndarray | None = None
    background_up: np.ndarray | None = None
    background_down: np.ndarray | None = None

    @property
    def has_systematic(self) -> bool:
        return self.signal_up is not None


def _hist(score, edges, total: float) -> np.ndarray:
    """Histogram of ``score`` normalised to ``total`` expected events (scores outside go to the end bins)."""
    score = np.clip(np.asarray(score, dtype=float).ravel(), edges[0], edges[-1])
    counts = np.histogram(score, edges)[0].astype(float)
    return total * counts / counts.sum()


def templates(score_signal, score_background, edges, n_signal: float, n_background: float,
              shifted: dict | None = None) -> Templates:
    """Templates from a classifier's output on simulated signal and background, normalised to
    ``n_signal`` and ``n_background`` expected events; ``edges`` the bin edges of the output.

    ``shifted`` = ``{"signal_up": scores, "signal_down": ..., "background_up": ..., "background_down": ...}``:
    the output on the same events with a systematic shifted by ±1σ (e.g. a calibration scale ±10%),
    normalised to the same totals — a pure shape systematic: the shift moves events between bins.
    A bin that receives no background in simulation gets a tiny floor, since a likelihood with an
    expected count of exactly zero is undefined.
    """
    edges = np.asarray(edges, dtype=float)
    floor = 1e-6 * n_background
    sig, bkg = _hist(score_signal, edges, n_signal), _hist(score_background, edges, n_background) + floor
    out = Templates(edges, sig, bkg)
    if shifted:
        missing = {"signal_up", "signal_down", "background_up", "background_down"} - set(shifted)
        if missing:
            raise ValueError(f"shifted needs all four variations; missing {sorted(missing)}")
        out.signal_up, out.signal_down = (_hist(shifted[k], edges, n_signal) for k in ("signal_up", "signal_down"))
        out.background_up, out.background_down = (_hist(shifted[k], edges, n_background) + floor
                                                  for k in ("background_up", "background_down"))
    return out


def model(t: Templates, systematic: bool = True, background_uncertainty: float | None = None):
    """The pyhf model of :class:`Templates`: signal scaled by the parameter of interest μ
    (``normfactor``), and, with ``systematic`` and shape variations present, one nuisance parameter
    ``calibration`` that moves signal and background together (``histosys``, correlated between them).
    ``background_uncertainty`` (a relative σ_b per bin, e.g. 0.1) adds an uncorrelated per-bin
    background uncertainty with Poisson constraints (``shapesys``), the textbook control-region case.
    """
    import pyhf

    pyhf.set_backend("numpy")
    sig_mods = [{"name": "mu", "type": "normfactor", "data": None}]
    bkg_mods = []
    if systematic and t.has_systematic:
        sig_mods.append({"name": "calibration", "type": "histosys",
                         "data": {"hi_data": list(t.signal_up), "lo_data": list(t.signal_down)}})
        bkg_mods.append({"name": "calibration", "type": "histosys",
                         "data": {"hi_data": list(t.background_up), "lo_data": list(t.background_down)}})
    if background_uncertainty is not None:
        bkg_mods.append({"name": "background_stat", "type": "shapesys",
                         "data": list(background_uncertainty * np.asarray(t.background))})
    spec = {"channels": [{"name": "tagger", "samples": [
        {"name": "signal", "data": list(map(float, t.signal)), "modifiers": sig_mods},
        {"name": "background", "data": list(map(float, t.background)), "modifiers": bkg_mods},
    ]}]}
    with warnings.catch_warnings():           # pyhf 0.7.6 validates with a jsonschema API that warns
        warnings.filterwarnings("ignore", message="jsonschema.RefResolver", category=DeprecationWarning)
        return pyhf.Model(spec, poi_name="mu", validate=False)


def asimov_data(m, mu: float) -> np.ndarray:
    """The Asimov data set of model ``m`` at signal strength ``mu``: the expected counts and the
    auxiliary data with every nuisance parameter at its nominal value."""
    pars = np.asarray(m.config.suggested_init(), dtype=float)
    pars[m.config.poi_index] = mu
    return np.asarray(m.expected_data(pars), dtype=float)


def discovery_significance(m, mu: float = 1.0) -> float:
    """Median expected discovery significance Z = √q₀ of a signal of strength ``mu`` (Asimov data set,
    nuisance parameters profiled)."""
    import pyhf

    data = asimov_data(m, mu)
    q0 = pyhf.infer.test_statistics.q0(0.0, data, m, m.config.suggested_init(), m.config.suggested_bounds(),
                                       m.config.suggested_fixed())
    return float(np.sqrt(max(float(q0), 0.0)))


def expected_upper_limit(m, level: float = 0.05) -> tuple[float, np.ndarray]:
    """Expected CLs upper limit on μ at confidence level 1 − ``level`` (asymptotic formulae, q̃_μ) for
    background-only data: ``(median, band)`` with ``band`` the limits at −2σ, −1σ, 0, +1σ, +2σ.
    For one bin without systematics the median solves 2[μs − b ln(1 + μs/b)] = Φ⁻¹(1 − level/2)²."""
    import pyhf

    data = asimov_data(m, 0.0)
    hi = 10.0
    while True:              # the root finder needs a bracket that contains the limit
        cls = pyhf.infer.hypotest(hi, data, m, test_stat="qtilde", return_expected_set=True)[1]
        if float(np.max(cls)) < level or hi > 1e6:
            break
        hi *= 4
    _, expected = pyhf.infer.intervals.upper_limits.upper_limit(data, m, scan=None, level=level,
                                                                par_bounds=[(0.0, hi) if i == m.config.poi_index else b
                                                                            for i, b in enumerate(m.config.suggested_bounds())])
    band = np.asarray(expected, dtype=float)
    return float(band[2]), band
