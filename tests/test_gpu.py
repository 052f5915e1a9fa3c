"""GPU correctness (``pytest -m gpu``; ``make gpu-check`` runs these with timed retrains): every model's
forward and backward pass on CUDA with and without mixed precision, ``fit`` for a few steps, the fused
attention against the written-out reference, and every committed checkpoint reproducing its recorded
metric on the GPU.

Without a CUDA device the tests are skipped, unless ``HEPCOURSE_GPU_TESTS_ON_CPU=1`` (the dry run of
``python -m hepcourse.bench.gpu_check --dry-run``), which runs them on the CPU with bfloat16 autocast there.
"""

import os

import numpy as np
import pytest
import torch

from hepcourse import checkpoints, losses, models, train
from hepcourse.data import constituents as C
from hepcourse.data import manifest

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if os.environ.get("HEPCOURSE_GPU_TESTS_ON_CPU") == "1":
        return torch.device("cpu")
    pytest.skip("no CUDA device (HEPCOURSE_GPU_TESTS_ON_CPU=1 runs these tests on the CPU)")


def _jets(n=64, n_part=30):
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(3, n_part + 1, (n,), generator=g)
    mask = torch.arange(n_part)[None, :] < counts[:, None]
    pt = torch.rand(n, n_part, generator=g) * 100 + 1
    eta, phi = torch.randn(n, n_part, generator=g) * 0.3, torch.randn(n, n_part, generator=g) * 0.3
    return C.from_kinematics(pt, eta, phi, pt * torch.cosh(eta) * 1.001, mask)


MODELS = {
    "MLP": (lambda: models.MLP(n_in=4, n_out=1, hidden=(16, 16)), "flat"),
    "BayesianMLP": (lambda: models.BayesianMLP(n_in=4, n_out=2, hidden=(16,)), "flat"),
    "Ensemble": (lambda: models.Ensemble(n_in=4, n_out=2, hidden=(16,), k=3), "flat"),
    "CNN": (lambda: models.CNN(models.CNNConfig(image_size=16, channels=(4, 4), pool_after=(0,), dense=(8,))), "image"),
    "PFN": (lambda: models.ParticleFlowNetwork(phi_hidden=(16,), latent=16, f_hidden=(16,)), "particles"),
    "EFN": (lambda: models.EnergyFlowNetwork(phi_hidden=(16,), latent=16, f_hidden=(16,)), "particles"),
    "EdgeConv": (lambda: models.EdgeConvNet(k=4, blocks=((8,), (8,)), head=(8,)), "particles"),
    "ParT": (lambda: models.ParticleTransformer(d=16, heads=2, layers=1, ffn=16, pair_hidden=(8,)), "particles"),
    "Lorentz": (lambda: models.LorentzInvariantNet(pair_hidden=(8,), particle_hidden=(8,), f_hidden=(8,)), "particles"),
}


def _inputs(kind, device):
    g = torch.Generator().manual_seed(1)
    if kind == "flat":
        return (torch.randn(64, 4, generator=g).to(device),)
    if kind == "image":
        return (torch.rand(64, 16, 16, generator=g).to(device),)
    return tuple(t.to(device) for t in _jets().tensors())


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_and_backward(name, amp, device):
    build, kind = MODELS[name]
    torch.manual_seed(0)
    model = build().to(device)
    x = _inputs(kind, device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
        out = model(*x)
    assert out.device.type == device.type and torch.isfinite(out).all(), name
    out.float().square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads), name
    assert any(float(g.abs().sum()) > 0 for g in grads), name
    if amp:                                                   # the same network in fp32: close to the AMP output
        with torch.no_grad():
            ref = model(*x).float()
        scale = float(ref.std()) + float(ref.abs().mean()) + 1e-3
        if name != "BayesianMLP":                             # a BNN draws new weights at every call
            assert float((out.detach().float() - ref).abs().max()) < 0.05 * scale, name


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp"])
def test_fit_a_few_steps(amp, device):
    torch.manual_seed(0)
    inp = _jets(256)
    y = (inp.mask.sum(1) > 15).float()                        # learnable: the multiplicity
    model = models.ParticleFlowNetwork(phi_hidden=(16,), latent=16, f_hidden=(16,))
    loader = train.TensorLoader(*inp.tensors(), y, batch_size=64)
    hist = train.fit(model, losses.bce_loss, loader, cfg=train.TrainConfig(epochs=15, lr=3e-3, patience=None, amp=amp,
                                                                          progress=False), device=device)
    assert next(model.parameters()).device.type == device.type
    assert hist.train_loss[-1] < 0.9 * hist.train_loss[0], hist.train_loss


def test_fused_attention_matches_the_reference(device):
    from hepcourse.models.transformer import attention, fused_attention

    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(4, 2, 9, 8, generator=g).to(device) for _ in range(3))
    bias = torch.randn(4, 2, 9, 9, generator=g).to(device)
    key_mask = (torch.arange(9)[None, :] < torch.tensor([9, 5, 3, 1])[:, None]).to(device)
    torch.testing.assert_close(fused_attention(q, k, v, bias, key_mask), attention(q, k, v, bias, key_mask),
                               rtol=1e-4, atol=1e-5)


ENTRIES = manifest.read_manifest()["checkpoints"]


@pytest.mark.parametrize("path", sorted(ENTRIES))
def test_checkpoint_reproduces_its_metric_on_the_device(path, device):
    entry = ENTRIES[path]
    model = checkpoints.load(path)
    value = checkpoints.evaluate(model, entry["test"], entry["metric"]["name"], device=device)
    recorded, tolerance = entry["metric"]["value"], entry["metric"]["tolerance"]
    assert np.isfinite(value) and abs(value - recorded) <= tolerance, (
        f"{path} on {device}: {entry['metric']['name']} = {value:.6f}, recorded {recorded} ± {tolerance}")
