"""hepcourse.train.fit under torchrun (DDP): two CPU processes with the gloo backend train to the same weights as one
process on the same global batches, and stop at the same epoch (hepcourse.distributed).

The two processes are started the way torchrun starts them (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR/PORT in the
environment) and call fit exactly as a single process does: fit itself joins the process group, wraps the model,
splits the batches and shares the early-stopping decision."""

import os
import socket
from dataclasses import asdict

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hepcourse import distributed, train

WORLD = 2
SEEN_BATCHES: list[int] = []          # batch sizes the loss function saw (in each process)


class L2Net(nn.Module):
    """A small classifier with an extra loss term, as BayesianMLP's kl() or the ensembles' l2(), called through the wrapper."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x)[:, 0]

    def l2(self):
        return sum((p ** 2).sum() for p in self.parameters())


def l2_loss(model, batch):
    x, y = batch
    SEEN_BATCHES.append(len(x))
    return F.binary_cross_entropy_with_logits(model(x), y) + 1e-3 * model.l2()


def mse_loss(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y)


def blobs(n: int, seed: int):
    """Two overlapping Gaussian blobs in 2D, labels 0/1."""
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.5).float()
    return torch.randn(n, 2, generator=g) + y[:, None] * torch.tensor([1.0, 0.5]), y


def line(slope: float, n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    return TensorDataset(x, slope * x + 1.0 + 0.01 * torch.randn(n, 1, generator=g))


def runs():
    """The two trainings, the same in one process and in each of the WORLD processes: (name, model, History)."""
    torch.set_num_threads(1)
    # 1. an MLP with an L2 term on shuffled TensorLoader batches (global batch 128), stopping when the
    #    validation loss improves by less than min_delta twice
    torch.manual_seed(0)
    mlp = L2Net()
    x, y = blobs(1024, 1)
    xv, yv = blobs(512, 2)
    hist1 = train.fit(mlp, l2_loss, train.TensorLoader(x, y, batch_size=128, seed=3),
                      train.TensorLoader(xv, yv, batch_size=256, shuffle=False),
                      train.TrainConfig(epochs=60, lr=0.005, patience=2, min_delta=2e-4, seed=5, progress=False))
    # 2. a line fitted through a DataLoader (full batches of 512) while the validation data have the opposite
    #    slope: the validation loss rises, patience 3 stops it (tests/test_train.py's diverging problem)
    lin = nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.fill_(1.0)
    hist2 = train.fit(lin, mse_loss, DataLoader(line(1.0, 512, 0), batch_size=512),
                      DataLoader(line(-1.0, 512, 1), batch_size=512),
                      train.TrainConfig(epochs=100, lr=0.05, patience=3, seed=None, progress=False))
    return [("mlp", mlp, hist1), ("line", lin, hist2)]


def _worker(rank: int, port: int, out: str):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    result = {name: {"state": model.state_dict(), "history": asdict(hist)} for name, model, hist in runs()}
    result["world_size"], result["batches"] = distributed.world_size(), sorted(set(SEEN_BATCHES))
    torch.save(result, os.path.join(out, f"rank{rank}.pt"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_and_single(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True, start_method="spawn")
    assert not distributed.launched()                       # this process trains alone
    single = {name: (model.state_dict(), asdict(hist)) for name, model, hist in runs()}
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)], single


def test_ddp_matches_one_process(ddp_and_single):
    ranks, single = ddp_and_single
    assert [r["world_size"] for r in ranks] == [WORLD, WORLD]
    assert ranks[0]["batches"] == [64, 128]                  # each process took half of every batch (128 training, 256 validation)
    for name in ("mlp", "line"):
        state, hist = single[name]
        assert hist["stopped_early"], (name, hist)
        for r in ranks:
            h = r[name]["history"]
            # the same decisions: the same number of epochs, the same best epoch restored
            assert (h["stopped_early"], len(h["train_loss"]), h["best_epoch"]) == \
                   (True, len(hist["train_loss"]), hist["best_epoch"]), (name, h, hist)
            # the losses: the mean of the two halves' float32 batch means vs the mean of the whole batch  (measured 5e-8)
            assert max(abs(a - b) for a, b in zip(h["val_loss"], hist["val_loss"])) < 1e-5, (name, h, hist)
            for key, w in state.items():
                # float32 all-reduce of two half-batch gradients vs one full-batch gradient: rounding of
                # relative size ~1e-7 per step, carried through 80 Adam steps (measured 1.2e-7 and 4e-9)
                assert torch.allclose(r[name]["state"][key], w, rtol=0, atol=1e-5), (name, key)
    # the two processes hold bit-identical weights (DDP: same start, same averaged gradient every step)
    for name in ("mlp", "line"):
        for key, w in ranks[0][name]["state"].items():
            assert torch.equal(w, ranks[1][name]["state"][key]), (name, key)


def test_one_process_is_left_alone():
    """Without a process group nothing is wrapped, and unwrap/shard give back what they were given."""
    m = L2Net()
    assert distributed.wrap(m, torch.device("cpu")) is m and distributed.unwrap(m) is m
    loader = train.TensorLoader(torch.zeros(4, 2), batch_size=2)
    assert distributed.shard(loader) is loader and distributed.world_size() == 1 and distributed.is_main()
