"""Our neural posterior estimation against the ``sbi`` package's, side by side (chapter 09).

Both learn the posterior of :data:`hepcourse.physics.toys_inference.LATENT_GAUSS` (θ ~ U(−2, 2), five
measurements x_i = z_i + N(0, 0.5²), z_i ~ N(θ, 1); the exact posterior is a truncated normal) from the same
simulations, with conditional neural spline flows of the same size (2 transforms, 64 hidden units, 10 bins)
and the same number of epochs and batch size: ours is :class:`hepcourse.models.Flow` trained by
:func:`hepcourse.train.fit` on :func:`hepcourse.models.sbi.npe_loss`; the peer is ``sbi.inference.NPE``
with ``posterior_nn("nsf")`` (Tejero-Cantero et al. 2020; it z-scores x, holds out 10% for validation
and rejects samples outside the prior). Each is scored by the C2ST AUC of its samples against the exact
posterior's (:func:`hepcourse.metrics.c2st_auc`) on test observations, the coverage of its central 68%
intervals over simulated observations, and the CPU time of its training.

Needs the ``peers`` extra (``pip install -e ".[peers]"``); ``tests/test_bench_sbi.py`` (marker ``peers``) runs it.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .. import metrics, train
from ..models import Flow, FlowConfig
from ..models.sbi import npe_loss
from ..physics.toys_inference import LATENT_GAUSS


def _ours(theta, x, epochs: int, seed: int):
    flow = Flow(FlowConfig(dim=1, context_dim=x.shape[1], n_layers=2, hidden=(64, 64), kind="spline", bins=10))
    train.fit(flow, npe_loss, train.TensorLoader(theta.astype(np.float32), x.astype(np.float32), batch_size=256, seed=seed),
              cfg=train.TrainConfig(epochs=epochs, lr=3e-3, patience=None, seed=seed, schedule="cosine", progress=False),
              device=torch.device("cpu"))

    def sample(xs: np.ndarray, n: int) -> np.ndarray:             # (B, n_obs) → (B, n) inside the prior
        ctx = torch.as_tensor(np.repeat(xs, 3 * n, axis=0), dtype=torch.float32)
        with torch.no_grad():
            s = flow.sample(len(ctx), ctx).numpy()[:, 0].reshape(len(xs), 3 * n)
        inside = (s > LATENT_GAUSS.low) & (s < LATENT_GAUSS.high)
        order = np.argsort(~inside, axis=1, kind="stable")[:, :n]
        return np.take_along_axis(s, order, axis=1)

    return sample


class _NoTracker:
    """sbi's experiment-tracking interface (``sbi.sbi_types.Tracker``), logging nothing."""

    log_dir = None

    def log_metric(self, name, value, step=None):
        pass

    def log_metrics(self, metrics, step=None):
        pass

    def log_params(self, params):
        pass

    def add_figure(self, name, figure, step=None):
        pass

    def flush(self):
        pass


def _peer(theta, x, epochs: int, seed: int):
    from sbi.inference import NPE
    from sbi.neural_nets import posterior_nn
    from sbi.utils import BoxUniform

    torch.manual_seed(seed)
    prior = BoxUniform(torch.tensor([LATENT_GAUSS.low]), torch.tensor([LATENT_GAUSS.high]))
    inference = NPE(prior=prior, density_estimator=posterior_nn(model="nsf", hidden_features=64, num_transforms=2,
                                                                num_bins=10),
                    tracker=_NoTracker(), show_progress_bars=False)   # sbi's default writes ./sbi-logs
    inference.append_simulations(torch.as_tensor(theta[:, None], dtype=torch.float32), torch.as_tensor(x, dtype=torch.float32))
    estimator = inference.train(training_batch_size=256, learning_rate=3e-3, max_num_epochs=epochs, stop_after_epochs=10 ** 6,
                                show_train_summary=False)
    posterior = inference.build_posterior(estimator)

    def sample(xs: np.ndarray, n: int) -> np.ndarray:
        out = posterior.sample_batched((n,), x=torch.as_tensor(xs, dtype=torch.float32), show_progress_bars=False)
        return out.numpy()[:, :, 0].T                                   # (B, n)

    return sample


def run(n_sim: int = 15_000, epochs: int = 8, n_test_obs: int = 5, n_c2st: int = 1500, n_cov: int = 300,
        seed: int = 0) -> list[dict]:
    """Train both with the same ``n_sim`` simulations and ``epochs``; one row per method: ``method``,
    ``c2st_mean``, ``c2st_max`` (over ``n_test_obs`` observations), ``c2st_err`` (one AUC's error),
    ``coverage68`` and its binomial error ``coverage68_err`` (over ``n_cov`` simulated observations), ``train_cpu_s``."""
    torch.set_num_threads(1)
    theta, x = LATENT_GAUSS.sample_joint(n_sim, np.random.default_rng(seed))
    theta_c, x_c = LATENT_GAUSS.sample_joint(n_test_obs, np.random.default_rng(seed + 1))
    theta_v, x_v = LATENT_GAUSS.sample_joint(n_cov, np.random.default_rng(seed + 2))
    rows = []
    for method, builder in (("NPE (hepcourse)", _ours), ("NPE (sbi)", _peer)):
        start = time.process_time()
        sample = builder(theta, x, epochs, seed)
        cpu = time.process_time() - start
        rng = np.random.default_rng(seed + 3)
        aucs, errs = [], []
        for xo in x_c:
            auc, err = metrics.c2st_auc(LATENT_GAUSS.sample_posterior(xo, n_c2st, rng), sample(xo[None], n_c2st)[0], seed=seed)
            aucs.append(auc)
            errs.append(err)
        u = metrics.posterior_quantile(sample(x_v, 99), theta_v)
        cov = float(metrics.expected_coverage(u, [0.68])[0])
        rows.append({"method": method, "c2st_mean": float(np.mean(aucs)), "c2st_max": float(np.max(aucs)),
                     "c2st_err": float(np.mean(errs)), "coverage68": cov,
                     "coverage68_err": float(np.sqrt(0.68 * 0.32 / n_cov)), "train_cpu_s": cpu})
    return rows
