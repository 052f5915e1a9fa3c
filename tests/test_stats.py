"""hepcourse.stats (pyhf models of a tagger's output): one-bin cases against closed forms, templates
normalised and shifted as stated, a shape systematic that costs significance."""

import numpy as np
import pytest
from scipy import optimize, stats as sps

from hepcourse import metrics, stats


def _one_bin(s, b, **kw):
    return stats.Templates(np.array([0.0, 1.0]), np.array([float(s)]), np.array([float(b)]), **kw)


@pytest.mark.parametrize("s, b", [(10.0, 100.0), (5.0, 2.0), (50.0, 1e4)])
def test_one_bin_significance_is_the_asimov_formula(s, b):
    m = stats.model(_one_bin(s, b))
    assert stats.discovery_significance(m) == pytest.approx(metrics.asimov_significance(s, b), rel=1e-4)


def test_one_bin_with_a_poisson_constrained_background_is_cowans_formula():
    # b known to σ_b from a control measurement: Z_A of Cowan's "Discovery sensitivity for a counting
    # experiment with background uncertainty" (the profile likelihood of the on/off problem)
    s, b, rel = 20.0, 100.0, 0.2
    sig2 = (rel * b) ** 2
    z = np.sqrt(2 * ((s + b) * np.log((s + b) * (b + sig2) / (b * b + (s + b) * sig2))
                     - b * b / sig2 * np.log(1 + sig2 * s / (b * (b + sig2)))))
    m = stats.model(_one_bin(s, b), background_uncertainty=rel)
    assert stats.discovery_significance(m) == pytest.approx(z, rel=2e-3)
    assert z < metrics.asimov_significance(s, b)


def test_expected_limit_of_one_bin():
    # median expected CLs limit (q̃_μ, asymptotic): 2[μs − b ln(1 + μs/b)] = Φ⁻¹(0.975)²
    s, b = 10.0, 50.0
    target = sps.norm.ppf(0.975) ** 2
    mu = optimize.brentq(lambda u: 2 * (u * s - b * np.log1p(u * s / b)) - target, 1e-6, 100)
    median, band = stats.expected_upper_limit(stats.model(_one_bin(s, b)))
    assert median == pytest.approx(mu, rel=2e-3)
    assert band.shape == (5,) and np.all(np.diff(band) > 0) and band[2] == median
    # large b: the Gaussian limit 1.96 √b / s
    median_big, _ = stats.expected_upper_limit(stats.model(_one_bin(100.0, 1e4)))
    assert median_big == pytest.approx(1.96 * 100 / 100, rel=0.01)


def test_templates_are_normalised_and_a_shape_systematic_costs_significance():
    rng = np.random.default_rng(0)
    ss, sb = rng.beta(5, 2, 20_000), rng.beta(2, 5, 50_000)
    edges = np.linspace(0, 1, 11)
    shifted = {"signal_up": np.clip(ss + 0.05, 0, 1), "signal_down": np.clip(ss - 0.05, 0, 1),
               "background_up": np.clip(sb + 0.05, 0, 1), "background_down": np.clip(sb - 0.05, 0, 1)}
    t = stats.templates(ss, sb, edges, 30.0, 1000.0, shifted=shifted)
    for arr, total in ((t.signal, 30), (t.signal_up, 30), (t.background, 1000), (t.background_down, 1000)):
        assert arr.sum() == pytest.approx(total, rel=1e-4)
    np.testing.assert_allclose(t.signal, 30 * np.histogram(ss, edges)[0] / ss.size)
    z_stat = stats.discovery_significance(stats.model(t, systematic=False))
    z_syst = stats.discovery_significance(stats.model(t, systematic=True))
    # with no systematic, Z² adds over bins (independent Poisson counts)
    z_bins = np.sqrt(np.sum(metrics.asimov_significance(t.signal, t.background) ** 2))
    assert z_stat == pytest.approx(z_bins, rel=1e-3)
    assert 0.3 * z_stat < z_syst < 0.98 * z_stat
    # a systematic that moves nothing costs nothing
    same = {k: (ss if k.startswith("signal") else sb) for k in shifted}
    t0 = stats.templates(ss, sb, edges, 30.0, 1000.0, shifted=same)
    assert stats.discovery_significance(stats.model(t0)) == pytest.approx(z_stat, rel=1e-3)
    with pytest.raises(ValueError):
        stats.templates(ss, sb, edges, 30.0, 1000.0, shifted={"signal_up": ss})
