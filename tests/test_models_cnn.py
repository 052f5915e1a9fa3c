"""hepcourse.models.cnn (chapter 03): circular padding in φ, shapes, parameter counts, saliency,
rebuilding from a spec, and a CNN that can fit a small batch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hepcourse import checkpoints, losses, metrics, models, train
from hepcourse.models.cnn import CNN, CNNConfig, PhiConv2d, pad_phi_eta


def max_roll_error(layer, x, shift, dim):
    with torch.no_grad():
        return float((layer(torch.roll(x, shift, dims=dim)) - torch.roll(layer(x), shift, dims=dim)).abs().max())


@pytest.mark.parametrize("kernel,n_phi", [(3, 12), (5, 11), (4, 10)])
def test_circular_conv_is_exactly_equivariant_under_phi_shifts(kernel, n_phi):
    torch.manual_seed(0)
    layer = PhiConv2d(3, 4, kernel, circular_phi=True)
    x = torch.randn(2, 3, n_phi, 9)                                         # (B, C, H = φ, W = η)
    assert layer(x).shape == (2, 4, n_phi, 9)
    for k in range(-n_phi, n_phi + 1):
        assert max_roll_error(layer, x, k, dim=2) < 1e-5, k


def test_zero_padding_and_eta_shifts_are_not_equivariant():
    torch.manual_seed(1)
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 0, 5], x[0, 0, 15, 6], x[0, 0, 7, 0] = 1.0, 2.0, 1.5           # energy at the φ border and at the η border
    zero = PhiConv2d(1, 2, 3, circular_phi=False)
    circ = PhiConv2d(1, 2, 3, circular_phi=True)
    assert max_roll_error(zero, x, 3, dim=2) > 1e-3                         # zero padding breaks φ equivariance
    assert max_roll_error(circ, x, 3, dim=2) < 1e-6
    assert max_roll_error(circ, x, 3, dim=3) > 1e-3                         # η is not periodic: zeros there


def test_circular_conv_equals_a_convolution_of_the_tiled_image():
    torch.manual_seed(2)
    layer = PhiConv2d(2, 3, 3, circular_phi=True)
    x = torch.randn(4, 2, 8, 7)
    tiled = torch.cat([x[:, :, -1:], x, x[:, :, :1]], dim=2)                # one row from the other side of φ
    expected = F.conv2d(tiled, layer.conv.weight, layer.conv.bias, padding=(0, 1))
    torch.testing.assert_close(layer(x), expected, atol=1e-6, rtol=0)
    zero = PhiConv2d(2, 3, 3, circular_phi=False)
    torch.testing.assert_close(zero(x), F.conv2d(x, zero.conv.weight, zero.conv.bias, padding=1), atol=1e-6, rtol=0)


def test_even_kernel_padding_keeps_the_size():
    x = torch.randn(1, 1, 9, 9)
    assert pad_phi_eta(x, 4, True).shape == (1, 1, 12, 12) and pad_phi_eta(x, 4, False).shape == (1, 1, 12, 12)
    assert PhiConv2d(1, 1, 4)(x).shape == (1, 1, 9, 9)


def test_circular_cnn_without_pooling_is_equivariant_end_to_end():
    torch.manual_seed(3)
    net = CNN(CNNConfig(image_size=12, channels=(4, 4, 4), pool_after=(), dense=(8,), circular_phi=True))
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        _, f1 = net(x, return_features=True)
        _, f2 = net(torch.roll(x, 5, dims=2), return_features=True)
    assert float((f2[-1] - torch.roll(f1[-1], 5, dims=2)).abs().max()) < 1e-5


def test_shapes_and_parameter_counts():
    net = CNN()                                                             # CPU default: 40 × 40, 4 × 8 maps
    out, feats = net(torch.rand(5, 40, 40), return_features=True)
    assert out.shape == (5, 1)
    assert [tuple(f.shape) for f in feats] == [(5, 8, 20, 20), (5, 8, 20, 20), (5, 8, 10, 10), (5, 8, 10, 10)]
    conv = (1 * 9 + 1) * 8 + 3 * (8 * 9 + 1) * 8
    dense = (800 * 64 + 64) + (64 + 1)
    assert net.n_parameters() == conv + dense
    paper = CNN(CNNConfig.paper())                                          # 37 × 37 → 18 → 9 pixels after two poolings
    conv = (16 + 1) * 64 + 3 * (64 * 16 + 1) * 64
    dense = (9 * 9 * 64 * 64 + 64) + (64 * 256 + 256) + (256 * 256 + 256) + (256 + 1)
    assert paper.n_parameters() == conv + dense == 612_417                  # Plehn et al. quote "610k"
    assert paper(torch.rand(2, 1, 37, 37)).shape == (2, 1)
    with pytest.raises(ValueError):
        CNNConfig(channels=(8, 8), pool_after=(2,))


def test_build_rebuilds_a_cnn_from_its_spec():
    torch.manual_seed(4)
    net = CNN(CNNConfig(image_size=16, channels=(4, 4), pool_after=(0,), dense=(8,), circular_phi=True))
    spec = checkpoints.model_spec(net)
    assert spec == {"class": "CNN", "config": net.cfg.to_dict()}
    again = models.build(spec)
    again.load_state_dict(net.state_dict())
    x = torch.rand(2, 16, 16)
    torch.testing.assert_close(again(x), net(x))


def test_saliency_is_the_input_gradient():
    torch.manual_seed(5)
    net = CNN(CNNConfig(image_size=8, channels=(3,), pool_after=(0,), dense=(4,), input_scale=3.0)).double()
    x = torch.rand(2, 8, 8, dtype=torch.float64)
    grad = models.saliency(net, x)
    assert grad.shape == (2, 8, 8)
    h = 1e-6
    for (b, i, j) in [(0, 3, 4), (1, 0, 7), (1, 5, 2)]:
        up, down = x.clone(), x.clone()
        up[b, i, j] += h
        down[b, i, j] -= h
        with torch.no_grad():
            fd = float(net(up)[b, 0] - net(down)[b, 0]) / (2 * h)
        assert grad[b, i, j].item() == pytest.approx(fd, abs=1e-7)
    assert all(p.grad is None for p in net.parameters())                   # the weights are untouched


def test_cnn_fits_a_small_batch():
    torch.manual_seed(6)
    rng = np.random.default_rng(6)
    x = rng.exponential(1.0, (32, 1, 16, 16)).astype(np.float32)
    y = rng.integers(0, 2, 32)                                              # random labels: only memorising helps
    net = CNN(CNNConfig(image_size=16, channels=(8, 8), pool_after=(0, 1), dense=(32,), input_scale=1.0))
    hist = train.fit(net, lambda m, b: losses.bce_with_logits(m(b[0])[:, 0], b[1]),
                     train.TensorLoader(x, y, batch_size=32), cfg=train.TrainConfig(epochs=300, lr=3e-3, patience=None,
                                                                                   progress=False),
                     device=torch.device("cpu"))
    assert hist.train_loss[0] > 0.5 and min(hist.train_loss) < 0.1 * math.log(2)


def test_checkpoint_test_split_of_the_jet_data():
    test = {"dataset": "jets-top-qcd", "split": "test", "n": 50, "input": "images"}
    x, y = checkpoints.test_sample(test)
    assert x.shape == (100, 40, 40) and y.sum() == 50
    np.testing.assert_allclose(x.sum(axis=(1, 2)), 1.0, atol=1e-5)
    xc, yc = checkpoints.test_sample({**test, "input": "constituents", "n_constituents": 20})
    assert xc.shape == (100, 60) and np.array_equal(yc, y)
    xf, _ = checkpoints.test_sample({**test, "input": "features", "features": ["m", "tau32"]})
    assert xf.shape == (100, 2) and np.all(xf[:, 0] > 0)
    torch.manual_seed(7)
    net = CNN()
    out = net(torch.as_tensor(x)).detach()[:, 0].numpy()                    # the metrics from the outputs by hand
    assert checkpoints.evaluate(net, test, "auc") == pytest.approx(metrics.auc(y, out), abs=1e-9)
    bce = np.mean(np.logaddexp(0.0, out) - y * out)                         # −[y log s + (1 − y) log(1 − s)]
    assert checkpoints.evaluate(net, test, "bce") == pytest.approx(bce, rel=1e-5)
