"""hepcourse.systematics and models.FeatureMLP (chapter 05): the calibration shift of the hardest
constituents, the augmented loss, the threshold-shift chain rule against the closed form of a Gaussian
toy, and the feature MLP's built-in standardisation."""

import numpy as np
import pytest
import torch
from scipy import stats as sps

from hepcourse import metrics, models, systematics
from hepcourse.data import constituents


@pytest.fixture(scope="module")
def jets():
    inputs, y, _ = constituents.load_inputs("jets-top-qcd", "test", 20, 30)
    return inputs, y


def test_scale_leading_scales_only_the_hardest_constituents(jets):
    inputs, _ = jets
    same = systematics.scale_leading(inputs, 1.0, 3)
    assert torch.allclose(same.p4, inputs.p4, rtol=1e-5, atol=1e-3) and torch.allclose(same.x, inputs.x, atol=1e-4)
    up = systematics.scale_leading(inputs, 1.1, 3)
    assert torch.allclose(up.p4[:, :3], 1.1 * inputs.p4[:, :3], rtol=1e-5, atol=1e-3)
    assert torch.allclose(up.p4[:, 3:], inputs.p4[:, 3:], rtol=1e-5, atol=1e-3)
    assert torch.equal(up.mask, inputs.mask) and torch.all(up.p4[~up.mask] == 0)
    assert not torch.allclose(up.x, inputs.x, atol=1e-3)           # the derived inputs (z, E/E_J) are recomputed
    # one factor per jet: jet 0 scaled by 0.9, jet 1 by 1.2
    per_jet = systematics.scale_leading(inputs, torch.tensor([0.9, 1.2] + [1.0] * (len(inputs) - 2)), 1)
    assert torch.allclose(per_jet.p4[:2, 0], torch.tensor([[0.9], [1.2]]) * inputs.p4[:2, 0], rtol=1e-5, atol=1e-3)
    assert torch.allclose(per_jet.p4[2:], inputs.p4[2:], rtol=1e-5, atol=1e-3)


def test_augmented_loss_is_the_nominal_bce_in_evaluation_and_at_zero_width(jets):
    inputs, y = jets
    torch.manual_seed(0)
    net = models.ParticleFlowNetwork(models.DeepSetsConfig(phi_hidden=(16,), latent=8, f_hidden=(16,)))
    batch = (*inputs.tensors(), y)
    nominal = torch.nn.functional.binary_cross_entropy_with_logits(net(*inputs.tensors()).reshape(-1), y)
    net.eval()
    assert torch.allclose(systematics.augmented_loss(net, batch, 0.3), nominal)
    net.train()
    assert torch.allclose(systematics.augmented_loss(net, batch, 0.0), nominal, atol=1e-5)
    torch.manual_seed(1)
    assert not torch.allclose(systematics.augmented_loss(net, batch, 0.3), nominal, atol=1e-5)


def test_significance_slope_against_the_closed_form_of_a_gaussian_toy():
    # scores N(1, 1) on signal and N(-1, 1) on background: ε(c) = 1 − Φ(c ∓ 1) exactly
    rng = np.random.default_rng(0)
    ss, sb = rng.normal(1.0, 1.0, 400_000), rng.normal(-1.0, 1.0, 2_000_000)   # more background: its tail matters
    S, B = 100.0, 1.0e4

    def exact(c):
        # Z and the two terms of dZ/dc (module docstring) with the exact efficiencies and densities
        s, b = S * sps.norm.sf(c - 1), B * sps.norm.sf(c + 1)
        z = metrics.asimov_significance(s, b)
        return z, -np.log1p(s / b) / z * S * sps.norm.pdf(c - 1), -(np.log1p(s / b) - s / b) / z * B * sps.norm.pdf(c + 1)

    for c in (0.5, 1.5, 2.0):
        z, slope = systematics.significance_slope(ss, sb, c, S, B)
        z0, term_s, term_b = exact(c)
        # the slope is a difference of two terms that nearly cancel near the best cut (c ≈ 1.7): a relative
        # error ε of the estimated efficiencies and densities moves it by up to ε(|term_s| + |term_b|). ε: the
        # binomial error of ε_B(c) (1.9% at c = 2), the KDE's smoothing bias (h²/2 · (x² − 1) ≈ 1% at 2σ
        # in the background's tail); measured over seeds 0-7: at most 2.8%, Z itself within 1.7%
        assert abs(z - z0) < 0.03 * z0, (c, z, z0)
        assert abs(slope - (term_s + term_b)) < 0.05 * (abs(term_s) + abs(term_b)), (c, slope, term_s, term_b)
    # and the slope's sign tells which way to move the cut: up below the best cut, down above it
    assert systematics.significance_slope(ss, sb, 0.5, S, B)[1] > 0 > systematics.significance_slope(ss, sb, 2.5, S, B)[1]


def test_feature_mlp_standardises_inside_and_round_trips_through_its_config():
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(170, 30, 500), rng.uniform(0, 1, 500), rng.poisson(60, 500)], 1)
    cfg = models.FeatureMLPConfig.from_data(x, ("m", "tau32", "n_particles"), hidden=(8,))
    assert np.allclose(cfg.shift, x.mean(0)) and np.allclose(cfg.scale, x.std(0))
    torch.manual_seed(0)
    net = models.FeatureMLP(cfg)
    xt = torch.as_tensor(x, dtype=torch.float32)
    z = (xt - xt.mean(0)) / xt.std(0, unbiased=False)
    assert torch.allclose(net(xt), net.net(z), atol=1e-5)
    again = models.FeatureMLP(models.FeatureMLPConfig(**cfg.to_dict()))
    again.load_state_dict(net.state_dict())                 # μ, σ come from the config, the weights from the state
    assert torch.equal(again(xt), net(xt))
    with pytest.raises(ValueError, match="one entry per feature"):
        models.FeatureMLPConfig(features=("m",), shift=(0.0, 1.0), scale=(1.0,))
