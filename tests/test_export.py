"""hepcourse.export: an exported network runs in ONNX Runtime with PyTorch's outputs, for any batch
size, reproducibly; a masked constituent tagger (chapter 04's PFN) exports too."""

import numpy as np
import onnx
import pytest
import torch

from hepcourse import export, models


def test_mlp_round_trip(tmp_path):
    torch.manual_seed(0)
    net = models.MLP(models.MLPConfig(n_in=5, hidden=(16, 16), activation="silu")).eval()
    path = export.export_onnx(net, torch.randn(3, 5), tmp_path / "mlp.onnx")
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["x"] and [o.name for o in graph.output] == ["logit"]
    sess = export.onnx_session(path)
    assert sess.get_inputs()[0].shape[0] == "batch"
    for n in (1, 1000):
        x = np.random.default_rng(n).normal(size=(n, 5)).astype(np.float32)
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        got = export.onnx_predict(sess, x)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
        assert np.array_equal(export.onnx_predict(sess, x), got)          # same input, same bits
    with pytest.raises(ValueError):
        export.onnx_predict(sess, x, x)


def test_masked_pfn_exports(tmp_path):
    torch.manual_seed(1)
    pfn = models.ParticleFlowNetwork(models.DeepSetsConfig(phi_hidden=(16,), latent=16, f_hidden=(16,))).eval()
    b, n = 4, 12
    x = torch.randn(b, n, 7)
    p4 = torch.rand(b, n, 4) + 1
    mask = torch.arange(n)[None, :] < torch.tensor([[12], [5], [9], [2]])
    path = export.export_onnx(pfn, (x, p4, mask), tmp_path / "pfn.onnx", input_names=("x", "p4", "mask"))
    sess = export.onnx_session(path)
    assert [i.name for i in sess.get_inputs()] == ["x", "mask"]      # the PFN does not read p4: the graph drops it
    got = export.onnx_predict(sess, x.numpy(), mask.numpy())
    with torch.no_grad():
        ref = pfn(x, p4, mask).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
