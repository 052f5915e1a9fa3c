"""hepcourse.metrics calibration and coverage: known answers for calibrated and miscalibrated inputs."""

import numpy as np
import pytest
from scipy import special

from hepcourse import metrics


def _calibrated(n, rng):
    p = rng.uniform(size=n)
    return (rng.uniform(size=n) < p).astype(int), p


def test_reliability_of_a_calibrated_classifier_lies_on_the_diagonal():
    y, p = _calibrated(400_000, np.random.default_rng(0))
    rel = metrics.reliability_curve(y, p, n_bins=10)
    assert rel.counts.sum() == len(y) and len(rel.edges) == 11
    assert np.all(np.abs(rel.observed - rel.predicted) < 4 * rel.observed_err + 1e-12)
    assert metrics.expected_calibration_error(y, p) < 0.003
    assert metrics.expected_calibration_error(y, p) == pytest.approx(rel.ece)


def test_ece_of_a_known_miscalibration():
    """Outputs p' = p² of a calibrated p: in a bin around p the gap is p − p², so ECE = ∫(p − p²)dp = 1/6
    in the limit of narrow bins, and for 10 equal bins a little less."""
    y, p = _calibrated(400_000, np.random.default_rng(1))
    ece = metrics.expected_calibration_error(y, p ** 2, n_bins=50)
    assert ece == pytest.approx(1 / 6, abs=0.005)
    with pytest.raises(ValueError):
        metrics.reliability_curve(y, p + 1)


def test_temperature_scaling_undoes_a_scaled_logit():
    rng = np.random.default_rng(2)
    z = rng.normal(0, 2, 200_000)
    y = (rng.uniform(size=z.size) < special.expit(z)).astype(int)
    assert metrics.fit_temperature(3 * z, y) == pytest.approx(3.0, rel=0.03)      # over-confident by 3
    assert metrics.fit_temperature(z, y) == pytest.approx(1.0, rel=0.03)
    before = metrics.expected_calibration_error(y, special.expit(3 * z))
    after = metrics.expected_calibration_error(y, special.expit(3 * z / metrics.fit_temperature(3 * z, y)))
    assert before > 0.05 > 0.005 > after


def test_pulls_and_coverage_of_gaussian_intervals():
    rng = np.random.default_rng(3)
    mu = rng.normal(size=100_000)
    sigma = rng.uniform(0.5, 2.0, mu.size)
    y = mu + sigma * rng.standard_normal(mu.size)
    t = metrics.pulls(y, mu, sigma)
    assert abs(t.mean()) < 0.02 and t.std() == pytest.approx(1.0, abs=0.01)
    for k, expected in ((1.0, 0.682689), (2.0, 0.954500)):
        assert metrics.gaussian_coverage(k) == pytest.approx(expected, abs=1e-6)
        c, err = metrics.coverage(y, mu, sigma, k)
        assert abs(c - expected) < 4 * err
    # using the variance as if it were the width: over-covers where σ > 1, under-covers where σ < 1
    c_wrong, _ = metrics.coverage(y, mu, sigma ** 2, 1.0)
    assert abs(c_wrong - 0.6827) > 0.03
    c, err = metrics.interval_coverage([0.0, 1.0, 2.0, 3.0], [-1, 0.5, 2.5, 2.0], [1, 1.5, 3.0, 4.0])
    assert c == 0.75 and err == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
