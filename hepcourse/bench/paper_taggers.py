"""The paper-sized ParticleNet-like and ParT-like taggers on a large generated jet set, on one or several GPUs.

The chapter 04 taggers at the size of their papers (:meth:`hepcourse.models.EdgeConvConfig.paper`: k = 16, three
EdgeConv blocks of 64/128/256 channels; :meth:`hepcourse.models.TransformerConfig.paper`: d = 128, 8 heads, 8 + 2
blocks, 2.1M parameters), trained by :func:`hepcourse.train.fit` — data-parallel under ``torchrun``
(:mod:`hepcourse.distributed`), the same code in one process::

    # 10^6 jets per class: about 5-10 core-hours of Pythia + FastJet (book/data.md); the file is not committed
    hepcourse data make jets-top-qcd --events 1000000 --jobs 64 --out /scratch/jets-top-qcd-1M.root
    # four GPUs of one machine; --model particlenet or part
    torchrun --standalone --nproc_per_node=4 -m hepcourse.bench.paper_taggers --model part \\
        --data /scratch/jets-top-qcd-1M.root --epochs 20 --batch 512 --out _build/paper

``--batch`` is the global batch (each of the W processes takes batch/W jets of it). Each process holds the
training split in memory: 1.2·10⁶ jets × ``--particles`` 100 × 11 float32 ≈ 5 GB. Process 0 writes
``<out>/<model>.pt`` (the weights) and ``<out>/<model>.csv`` (AUC, rejections at ε_S = 0.3 and 0.5, epochs,
training time, jets/s) on the test split. ``--small`` trains the CPU-sized networks instead, for a smoke test
on a laptop: ``torchrun --standalone --nproc_per_node=2 -m hepcourse.bench.paper_taggers --small --jets 500 --epochs 1``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from .. import config, distributed, metrics, models, train
from ..data import constituents
from ..data.datasets import load
from ..losses import bce_loss

MODELS = {"particlenet": (models.EdgeConvNet, models.EdgeConvConfig),
          "part": (models.ParticleTransformer, models.TransformerConfig)}


def inputs(split: str, n: int | None, particles: int, path: Path | None):
    """``(ConstituentInputs, labels)`` of a split of ``jets-top-qcd`` (or of the file ``path``, written by
    ``hepcourse data make jets-top-qcd --out path``)."""
    jets = load("jets-top-qcd", split=split, n=n, format="numpy", max_particles=particles,
                particle_fields=constituents.KINEMATICS, path=path)
    return constituents.from_jets(jets), torch.as_tensor(jets.labels, dtype=torch.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hepcourse.bench.paper_taggers", description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=sorted(MODELS), default="particlenet")
    p.add_argument("--data", type=Path, default=None, help="a jets-top-qcd file (default: the committed data/ one)")
    p.add_argument("--jets", type=int, default=None, help="jets per class of the training split (default: all)")
    p.add_argument("--particles", type=int, default=100, help="leading constituents per jet")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=512, help="global batch size (all processes together)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--small", action="store_true", help="the CPU-sized networks (a smoke test)")
    p.add_argument("--out", type=Path, default=None, help="default: _build/paper")
    args = p.parse_args(argv)

    device = config.device()
    distributed.init(device)                         # under torchrun; fit would do it too
    cls, cfg_cls = MODELS[args.model]
    config.seed_everything(0)
    model = cls(cfg_cls() if args.small else cfg_cls.paper())
    x_tr, y_tr = inputs("train", args.jets, args.particles, args.data)
    x_va, y_va = inputs("val", None if args.jets is None else max(args.jets // 3, 1), args.particles, args.data)
    cfg = train.TrainConfig(epochs=args.epochs, lr=args.lr, patience=5, schedule="cosine", amp=device.type == "cuda")
    history = train.fit(model, bce_loss, train.TensorLoader(*x_tr.tensors(), y_tr, batch_size=args.batch),
                        train.TensorLoader(*x_va.tensors(), y_va, batch_size=4 * args.batch, shuffle=False), cfg)
    if not distributed.is_main():
        return 0
    x_te, y_te = inputs("test", None if args.jets is None else max(args.jets // 3, 1), args.particles, args.data)
    start = time.perf_counter()
    score = train.predict(model, x_te, batch_size=1024)
    rate = len(y_te) / (time.perf_counter() - start)
    y = y_te.numpy().astype(int)
    rej = metrics.rejection_at(y, score, np.array([0.3, 0.5]))
    row = {"model": args.model, "size": "small" if args.small else "paper",
           "parameters": sum(q.numel() for q in model.parameters()), "processes": distributed.world_size(),
           "device": str(device), "train_jets": len(y_tr), "epochs": history.epochs_run,
           "train_s": round(history.seconds, 1), "auc": round(metrics.auc(y, score), 4),
           "rejection_03": round(float(rej[0]), 1), "rejection_05": round(float(rej[1]), 1),
           "test_jets_per_s": int(rate)}
    out = args.out or config.BUILD_DIR / "paper"
    out.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, out / f"{args.model}.pt")
    with open(out / f"{args.model}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        w.writeheader()
        w.writerow(row)
    print(", ".join(f"{k} {v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
