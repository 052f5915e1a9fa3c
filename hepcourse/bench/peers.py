"""Our coupling flow side by side with a well-kept library's: ``hepcourse.models.Flow`` against ``zuko``.

Both flows have the same architecture — four affine (RealNVP) coupling layers with alternating masks, each
conditioner an MLP with two hidden layers of 32 ReLU units, a standard normal latent — and differ only in how
the scale is bounded (ours: s_max · tanh(s/s_max); zuko's ``MonotonicAffineTransform``: its own soft bound).
They are trained with the same loop (Adam, the same batches in the same order, the same number of steps) on a
two-dimensional Gaussian mixture whose density is known, so both test NLLs are compared with the exact
cross-entropy bound, the data's own entropy estimated on the same test events. Weights cannot be shared
between the two parametrisations, so "agreement" is agreement of the learned densities within the statistical
error of the test NLL, plus the training time per step on the same machine.

``zuko`` is an optional dependency (the ``peers`` extra of ``pyproject.toml``); it is imported when a
comparison runs.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..models.flows import Flow, FlowConfig

MIXTURE = {"weights": (0.5, 0.5), "means": ((-1.0, 0.0), (1.5, 1.0)), "sigmas": ((0.5, 0.8), (0.7, 0.4))}


def mixture_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws (n, 2) of the two-component Gaussian mixture :data:`MIXTURE` (diagonal covariances)."""
    k = rng.random(n) < MIXTURE["weights"][0]
    m, s = np.asarray(MIXTURE["means"]), np.asarray(MIXTURE["sigmas"])
    comp = np.where(k, 0, 1)
    return m[comp] + s[comp] * rng.standard_normal((n, 2))


def mixture_log_prob(x: np.ndarray) -> np.ndarray:
    """The exact log-density of :data:`MIXTURE` at x (n, 2)."""
    terms = []
    for w, m, s in zip(MIXTURE["weights"], MIXTURE["means"], MIXTURE["sigmas"]):
        z = (x - np.asarray(m)) / np.asarray(s)
        terms.append(math.log(w) - 0.5 * np.sum(z ** 2, axis=1) - np.sum(np.log(s)) - math.log(2 * math.pi))
    return np.logaddexp(*terms)


def _train(log_prob, params, x: torch.Tensor, steps: int, batch: int, lr: float, seed: int) -> float:
    """Adam on −⟨log p⟩ over ``steps`` batches drawn by a generator seeded with ``seed``; returns seconds."""
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        loss = -log_prob(x[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def flow_comparison(n_train: int = 20_000, n_test: int = 20_000, steps: int = 3000, batch: int = 256,
                    lr: float = 2e-3, seed: int = 0):
    """Train our affine coupling flow and zuko's ``RealNVP`` of the same architecture on the same mixture
    events and batches; returns a :class:`pandas.DataFrame` with one row per implementation: ``test_nll``
    and its statistical error ``nll_err``, ``excess`` = test NLL − the exact bound (≥ 0 up to noise), the
    number of parameters, ``seconds`` of training and ``ms_per_step``. ``df.attrs["entropy"]`` holds the bound."""
    import pandas as pd
    import zuko

    rng = np.random.default_rng(seed)
    x = torch.tensor(mixture_sample(n_train, rng), dtype=torch.float32)
    x_test = mixture_sample(n_test, rng)
    bound = -mixture_log_prob(x_test).mean()
    xt = torch.tensor(x_test, dtype=torch.float32)

    torch.manual_seed(seed)
    ours = Flow(FlowConfig(dim=2, n_layers=4, hidden=(32, 32), kind="affine"))
    torch.manual_seed(seed)
    theirs = zuko.flows.RealNVP(2, transforms=4, hidden_features=(32, 32))
    rows = {}
    for name, model, log_prob in (("hepcourse Flow (affine)", ours, ours.log_prob),
                                  ("zuko RealNVP", theirs, lambda v: theirs().log_prob(v))):
        seconds = _train(log_prob, model.parameters(), x, steps, batch, lr, seed)
        with torch.no_grad():
            lp = log_prob(xt).numpy()
        rows[name] = {"test_nll": -lp.mean(), "nll_err": lp.std() / math.sqrt(len(lp)), "excess": -lp.mean() - bound,
                      "parameters": sum(p.numel() for p in model.parameters()), "seconds": seconds,
                      "ms_per_step": 1e3 * seconds / steps}
    df = pd.DataFrame(rows).T
    df.attrs.update(entropy=bound, steps=steps, n_train=n_train, n_test=n_test)
    return df
