"""hepcourse.train: the loop learns, stops early, restores the best epoch; load-or-train."""

import numpy as np
import torch
import pytest
from torch.utils.data import DataLoader, TensorDataset

from hepcourse import config, train


def _mse(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x), y)


def _line_data(slope, n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    return TensorDataset(x, slope * x + 1.0 + 0.01 * torch.randn(n, 1, generator=g))


def test_fit_learns_a_line():
    model = torch.nn.Linear(1, 1)
    loader = DataLoader(_line_data(3.0), batch_size=64, shuffle=True)
    hist = train.fit(model, _mse, loader, loader, train.TrainConfig(epochs=60, lr=0.05, patience=None, progress=False),
                     device=torch.device("cpu"))
    assert hist.epochs_run == 60 and len(hist.val_loss) == 60
    assert model.weight.item() == pytest.approx(3.0, abs=0.02)
    assert model.bias.item() == pytest.approx(1.0, abs=0.02)
    assert hist.val_loss[-1] < 1e-3 < hist.val_loss[0]


def _diverging_problem():
    """A line y = 1 + 0·x to start from, training data with slope +1, validation data with slope −1."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.zero_(); model.bias.fill_(1.0)
    return model, DataLoader(_line_data(1.0), batch_size=512), DataLoader(_line_data(-1.0, seed=1), batch_size=512)


def test_early_stopping_restores_the_best_epoch():
    # training pulls the slope to +1 while the validation data have slope −1: validation gets worse
    model, train_loader, val_loader = _diverging_problem()
    cfg = train.TrainConfig(epochs=100, lr=0.05, patience=3, progress=False)
    hist = train.fit(model, _mse, train_loader, val_loader, cfg, device=torch.device("cpu"))
    assert hist.stopped_early and hist.epochs_run == hist.best_epoch + 1 + 3
    with torch.no_grad():
        x, y = val_loader.dataset.tensors
        restored = torch.nn.functional.mse_loss(model(x), y).item()
    assert restored == pytest.approx(hist.val_loss[hist.best_epoch], rel=1e-5)
    assert restored < hist.val_loss[-1]


def test_fit_is_reproducible_with_a_seed():
    def run():
        model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        loader = DataLoader(_line_data(2.0), batch_size=32, shuffle=True)
        cfg = train.TrainConfig(epochs=3, seed=7, progress=False)
        config.seed_everything(7)
        model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        return train.fit(model, _mse, loader, None, cfg, device=torch.device("cpu")).train_loss
    assert run() == run()


def test_empty_loader_is_an_error():
    with pytest.raises(ValueError, match="no batches"):
        train.fit(torch.nn.Linear(1, 1), _mse, [], cfg=train.TrainConfig(progress=False), device=torch.device("cpu"))


def test_to_device_handles_nested_batches():
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), [torch.ones(1)]), "name": "jets"}
    moved = train.to_device(batch, torch.device("cpu"))
    assert moved["name"] == "jets" and isinstance(moved["pair"], tuple) and isinstance(moved["pair"][1], list)


def test_progress_is_quiet_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert train._show_progress(train.TrainConfig()) is False
    monkeypatch.delenv("CI")
    assert train._show_progress(train.TrainConfig()) is True
    monkeypatch.setenv("HEPCOURSE_PROGRESS", "0")                      # the website build
    assert train._show_progress(train.TrainConfig()) is False
    assert train._show_progress(train.TrainConfig(progress=True)) is True
    monkeypatch.delenv("HEPCOURSE_PROGRESS")
    assert train._show_progress(train.TrainConfig(progress=False)) is False


def test_predict_is_batched_numpy_without_gradients_and_independent_of_the_batch_size():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
    net.train()
    x = np.random.default_rng(0).normal(size=(1001, 3))                 # float64 NumPy: cast to the model's float32
    out = train.predict(net, x, batch_size=100, device=torch.device("cpu"))
    assert isinstance(out, np.ndarray) and out.shape == (1001, 2) and out.dtype == np.float32
    assert not net.training                                               # eval mode: dropout off, deterministic
    with torch.no_grad():
        expected = net(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(train.predict(net, x, batch_size=7, device=torch.device("cpu")), out, rtol=1e-6, atol=1e-6)
    assert all(p.grad is None for p in net.parameters())


def test_predict_takes_several_inputs_and_joins_along_the_models_batch_axis():
    from hepcourse import models

    class Two(torch.nn.Module):                                           # model(x, mask) -> (B,)
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(2.0))

        def forward(self, x, mask):
            return self.w * (x * mask).sum(-1)

    x, mask = np.ones((10, 4)), np.array([[True, False, True, True]] * 10)
    np.testing.assert_allclose(train.predict(Two(), (x, mask), batch_size=3, device=torch.device("cpu")), np.full(10, 6.0))
    ens = models.Ensemble(models.MLPConfig(n_in=2, n_out=1, hidden=(4,)), k=3)
    xe = np.random.default_rng(1).normal(size=(25, 2))
    out = train.predict(ens, xe, batch_size=4, device=torch.device("cpu"))
    assert out.shape == (3, 25, 1)                                          # (K, N, n_out): joined along axis 1
    with torch.no_grad():
        np.testing.assert_allclose(out, ens(torch.as_tensor(xe, dtype=torch.float32)).numpy(), rtol=1e-6, atol=1e-6)


def test_predict_samples_of_a_bayesian_network_are_whole_functions():
    """Each of the n_samples passes uses one weight draw for all batches, so the samples do not depend
    on the batch size, and with one batch they are the draws of sample_predictions."""
    from hepcourse import models

    bnn = models.BayesianMLP(models.MLPConfig(n_in=1, n_out=1, hidden=(8,)), init_sigma=0.3)
    x = np.linspace(-1, 1, 50)[:, None]
    cpu = torch.device("cpu")
    torch.manual_seed(5)
    small = train.predict(bnn, x, batch_size=7, device=cpu, n_samples=4)
    torch.manual_seed(5)
    whole = train.predict(bnn, x, batch_size=50, device=cpu, n_samples=4)
    torch.manual_seed(5)
    reference = bnn.sample_predictions(torch.as_tensor(x, dtype=torch.float32), 4).numpy()
    assert small.shape == (4, 50, 1)
    np.testing.assert_allclose(small, whole, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(whole, reference, rtol=1e-6, atol=1e-6)
    assert np.std(small[:, 0, 0]) > 1e-3                                   # the samples differ from each other


def test_tensor_loader_batches_cover_the_data_once_per_epoch():
    import numpy as np

    x = np.arange(10, dtype=np.float64).reshape(10, 1)
    y = np.arange(10)
    loader = train.TensorLoader(x, y, batch_size=4, seed=3)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert torch.equal(torch.cat([b[0][:, 0] for b in batches]).long(), seen)    # rows stay paired
    again = torch.cat([b[1] for b in loader])
    assert not torch.equal(seen, again)                                          # reshuffled each epoch
    assert torch.equal(torch.cat([b[1] for b in train.TensorLoader(x, y, batch_size=4, seed=3)]), seen)
    assert torch.equal(torch.cat([b[0] for b in train.TensorLoader(y, shuffle=False, batch_size=3)]),
                       torch.arange(10))
    with pytest.raises(ValueError):
        train.TensorLoader(x, y[:5])


def test_cosine_schedule_anneals_the_learning_rate_to_zero():
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    loader = DataLoader(_line_data(1.0, n=64), batch_size=64)
    cfg = train.TrainConfig(epochs=4, patience=None, progress=False, schedule="cosine")
    train.fit(model, _mse, loader, None, cfg, optimizer=opt, device=torch.device("cpu"))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)    # ½(1 + cos π) · 0.1 after 4 of 4 epochs
    with pytest.raises(ValueError, match="schedule"):
        train.fit(model, _mse, loader, None, train.TrainConfig(epochs=1, progress=False, schedule="step"),
                  device=torch.device("cpu"))


def test_restore_best_false_keeps_the_last_epoch():
    model, train_loader, val_loader = _diverging_problem()
    cfg = train.TrainConfig(epochs=20, lr=0.05, patience=None, progress=False, restore_best=False)
    hist = train.fit(model, _mse, train_loader, val_loader, cfg, device=torch.device("cpu"))
    with torch.no_grad():
        x, y = val_loader.dataset.tensors
        final = torch.nn.functional.mse_loss(model(x), y).item()
    assert final == pytest.approx(hist.val_loss[-1], rel=1e-5) and final > min(hist.val_loss)


def test_history_summary_states_first_last_and_best_loss():
    h = train.History(train_loss=[1.0, 0.5, 0.4], val_loss=[0.9, 0.3, 0.35], best_epoch=1, seconds=2.5)
    assert h.summary() == ("trained 3 epochs in 2.5 s; validation loss 0.9000 after the first epoch, 0.3500 after "
                           "the last, 0.3000 at best (epoch 2)")
    h = train.History(train_loss=[2.0, 1.0], best_epoch=1, stopped_early=True)
    assert "(stopped early); training loss 2.0000" in h.summary()


def test_lbfgs_full_batch_reaches_the_least_squares_solution():
    """``optimizer=torch.optim.LBFGS`` with the whole set as one batch minimises the loss like a fit: the line's
    weight and bias equal the closed-form least-squares solution; several batches are refused."""
    x, y = _line_data(3.0).tensors
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1).double()
    xd, yd = x.double(), y.double()
    loader = [(xd, yd)]
    # stop on the gradient only (≤ 1e-12; the loss's curvature is 2⟨x²⟩ ≈ 0.7, so the parameters are within ~1e-11):
    # a stop on the change of the loss (1e-14) would leave them √(2·1e-14/0.7) ≈ 2e-7 away
    opt = torch.optim.LBFGS(model.parameters(), max_iter=100, tolerance_grad=1e-12, tolerance_change=0.0,
                            line_search_fn="strong_wolfe")
    hist = train.fit(model, _mse, loader, None, train.TrainConfig(epochs=2, patience=None, progress=False),
                     optimizer=opt, device=torch.device("cpu"))
    coef = np.linalg.lstsq(np.c_[xd.numpy(), np.ones(len(xd))], yd.numpy()[:, 0], rcond=None)[0]
    assert model.weight.item() == pytest.approx(coef[0], abs=1e-8)
    assert model.bias.item() == pytest.approx(coef[1], abs=1e-8)
    assert hist.train_loss[-1] == pytest.approx(np.mean((np.c_[xd.numpy(), np.ones(len(xd))] @ coef - yd.numpy()[:, 0]) ** 2),
                                                rel=1e-9)
    with pytest.raises(ValueError, match="one batch"):
        train.fit(model, _mse, DataLoader(TensorDataset(x, y), batch_size=64), None,
                  train.TrainConfig(epochs=1, progress=False), optimizer=torch.optim.LBFGS(model.parameters()),
                  device=torch.device("cpu"))
