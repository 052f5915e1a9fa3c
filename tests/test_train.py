"""hepcourse.train: the loop learns, stops early, restores the best epoch; load-or-train."""

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


def test_load_or_train_saves_then_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "QUICK", False)
    monkeypatch.setattr(config, "RETRAIN", False)
    monkeypatch.setenv("HEPCOURSE_DEVICE", "cpu")
    calls = []

    def fake_train(model):
        calls.append(1)
        with torch.no_grad():
            model.weight.fill_(4.0)
        return "trained"

    ckpt = tmp_path / "ckpt" / "line.pt"
    model, result = train.load_or_train(torch.nn.Linear(1, 1), ckpt, fake_train)
    assert result == "trained" and ckpt.exists()
    fresh, result = train.load_or_train(torch.nn.Linear(1, 1), ckpt, fake_train)
    assert result is None and len(calls) == 1 and fresh.weight.item() == 4.0

    monkeypatch.setattr(config, "RETRAIN", True)
    train.load_or_train(torch.nn.Linear(1, 1), ckpt, fake_train)
    assert len(calls) == 2


def test_quick_mode_never_writes_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "QUICK", True)
    ckpt = tmp_path / "line.pt"
    train.load_or_train(torch.nn.Linear(1, 1), ckpt, lambda m: None)
    assert not ckpt.exists()


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
