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

``hepcourse bench peers`` (:func:`run`) puts every reference implementation of the course beside the library a
physicist would otherwise use, on the same inputs in one process, one row each (:data:`COMPARISONS`): first the
numerical agreement (the largest absolute difference of the outputs, and of the gradients for networks, against a
tolerance from the arithmetic's precision), then the throughput — items per second of CPU time on one thread,
forward and forward + backward — and the peak memory of one call. Peak memory is the growth of the process's
peak resident set during the call (Linux: ``VmHWM`` after resetting it through ``/proc/self/clear_refs``, with
glibc's mmap threshold fixed at 64 KiB so that freed buffers go back to the system): neither ``tracemalloc``
(which does not see PyTorch's allocator) nor PyTorch (which keeps allocator statistics for GPUs only) measures
both NumPy and PyTorch on the CPU. A row whose peer is not installed is skipped with a message. The rows are
written to ``data/benchmarks/peers.csv`` and :func:`markdown_table` makes the tables of ``book/performance.md``.
"""

from __future__ import annotations

import csv
import ctypes
import importlib.util
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

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


# ----------------------------------------------------------------------------- hepcourse bench peers

CSV_NAME = "peers.csv"


def bench_dir() -> Path:
    """``data/benchmarks/`` (as :func:`hepcourse.bench.taggers.bench_dir`, without importing the taggers)."""
    from .. import config

    return config.DATA_DIR / "benchmarks"

COLUMNS = ("comparison", "chapter", "ours", "peer", "inputs", "measure", "difference", "tolerance", "agree",
           "ours_fwd_per_s", "peer_fwd_per_s", "ours_fwdbwd_per_s", "peer_fwdbwd_per_s", "ours_peak_mb",
           "peer_peak_mb", "time_ratio", "unit", "note")


@dataclass
class Side:
    """One implementation of a comparison: ``forward()`` returns the output(s) to compare; ``backward(out)``
    (networks only) runs the backward pass of a scalar made of the outputs and returns the gradients to compare."""

    name: str
    forward: Callable[[], object]
    backward: Callable[[object], list] | None = None


@dataclass
class Result:
    comparison: str
    chapter: str
    ours: str
    peer: str
    inputs: str
    max_abs_diff: float
    tolerance: float
    unit: str
    measure: str = ""
    rates: dict = field(default_factory=dict)
    peaks: dict = field(default_factory=dict)
    note: str = ""

    def row(self) -> dict:
        r = {"comparison": self.comparison, "chapter": self.chapter, "ours": self.ours, "peer": self.peer,
             "inputs": self.inputs, "measure": self.measure, "difference": f"{self.max_abs_diff:.2g}",
             "tolerance": f"{self.tolerance:.2g}",
             "agree": bool(self.max_abs_diff <= self.tolerance), "unit": self.unit, "note": self.note}
        for k in ("ours_fwd", "peer_fwd", "ours_fwdbwd", "peer_fwdbwd"):
            v = self.rates.get(k)
            r[f"{k}_per_s"] = "" if v is None else int(round(v, -1 if v > 100 else 0))
        for k in ("ours", "peer"):
            v = self.peaks.get(k)
            r[f"{k}_peak_mb"] = "" if v is None else round(v / 1e6, 1)
        mode = "fwd" if self.rates.get("ours_fwd") else "fwdbwd"              # a training has only the second
        ours, peer = self.rates.get(f"ours_{mode}"), self.rates.get(f"peer_{mode}")
        r["time_ratio"] = round(peer / ours, 2) if ours and peer else ""      # our time ÷ the peer's
        return r


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 16)                  # M_MMAP_THRESHOLD: fixed; buffers >= 64 KiB are mmap'd and returned
        return libc
    except OSError:                                # not glibc (macOS, musl): no peak memory
        return None


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def peak_memory(fn: Callable[[], object], libc) -> float | None:
    """Bytes by which one call of ``fn`` raises the process's peak resident set (None where unmeasurable)."""
    if libc is None or not os.path.exists("/proc/self/clear_refs"):
        return None
    libc.malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                           # reset VmHWM to the current resident set
    except OSError:
        return None
    base = _status("VmRSS:")
    out = fn()
    peak = _status("VmHWM:") - base
    del out
    return float(max(peak, 0))


def rate(fn: Callable[[], object], n_items: int, min_cpu_s: float = 0.2, repeats: int = 3) -> float:
    """Items per second of process CPU time: the best of ``repeats`` timings, each of as many calls as fill
    ``min_cpu_s`` (after one warm-up call)."""
    fn()
    best = math.inf
    for _ in range(repeats):
        calls, start = 0, time.process_time()
        while True:
            fn()
            calls += 1
            spent = time.process_time() - start
            if spent >= min_cpu_s:
                break
        best = min(best, spent / calls)
    return n_items / best


def _max_diff(a, b) -> float:
    """The largest |a − b| relative to the largest |b|, over a tensor or array or over lists of them (each
    normalised by its own scale: gradients of different layers differ in size)."""
    if isinstance(a, (list, tuple)):
        return max(_max_diff(x, y) for x, y in zip(a, b))
    a = a.detach().double().numpy() if torch.is_tensor(a) else np.asarray(a, dtype=float)
    b = b.detach().double().numpy() if torch.is_tensor(b) else np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else float(np.max(np.abs(a - b), initial=0.0))


def _measure(comparison: str, chapter: str, inputs: str, unit: str, n_items: int, ours: Side, peer: Side,
             tolerance: float, libc, note: str = "") -> Result:
    """Agreement first (outputs, and gradients for networks: the largest relative difference), then rates and
    peak memory."""
    out_o, out_p = ours.forward(), peer.forward()
    diff = _max_diff(out_o, out_p)
    if ours.backward is not None:
        diff = max(diff, _max_diff(ours.backward(out_o), peer.backward(out_p)))
    res = Result(comparison, chapter, ours.name, peer.name, inputs, diff, tolerance, unit,
                 measure="max relative difference" + (" (outputs, gradients)" if ours.backward else ""), note=note)
    for who, side in (("ours", ours), ("peer", peer)):
        with torch.no_grad():
            res.rates[f"{who}_fwd"] = rate(side.forward, n_items)
        if side.backward is not None:
            res.rates[f"{who}_fwdbwd"] = rate(lambda s=side: s.backward(s.forward()), n_items)
            res.peaks[who] = peak_memory(lambda s=side: s.backward(s.forward()), libc)
        else:
            res.peaks[who] = peak_memory(side.forward, libc)
    return res


FLOAT32 = 1e-5
"""Relative tolerance of float32 results computed in another order (sums of ≲ 10³ terms: ~ 10² ε₃₂)."""
FLOAT64 = 1e-12
"""Relative tolerance of float64 results computed in another order."""


def _jets(n_per_class: int = 256, particles: int = 30):
    """Test jets of ``jets-top-qcd``: ``(ConstituentInputs, JetTensors)`` of 2 × ``n_per_class`` jets."""
    from ..data import constituents

    inp, _, jets = constituents.load_inputs("jets-top-qcd", "test", n_per_class, particles)
    return inp, jets


def edgeconv_row(libc, inp, k: int = 8, channels=(32, 32)) -> Result:
    """Chapter 04's :class:`~hepcourse.models.gnn.EdgeConv` against PyTorch Geometric's ``EdgeConv`` (mean
    aggregation) on the same k-NN graph with the same MLP weights. Our layer adds a linear shortcut and a ReLU
    after the aggregation; the peer gets the same two (the same ``nn.Linear``) outside its ``EdgeConv``.
    PyG runs on the real particles only (a flat graph), ours on the padded (B, N) batch; compared on the real ones."""
    from torch_geometric.nn import EdgeConv as PygEdgeConv

    from ..models.gnn import EdgeConv, eta_phi_distance2, knn
    from ..models.layers import Standardise
    from ..data.constituents import ANGLES, PARTICLE_SHIFT_SCALE

    torch.manual_seed(0)
    x_raw, mask = inp.x, inp.mask
    b, n, f = x_raw.shape
    h = torch.where(mask[..., None], Standardise(PARTICLE_SHIFT_SCALE[:f])(x_raw), 0.0).detach()   # (B, N, F)
    idx, valid = knn(eta_phi_distance2(torch.where(mask[..., None], x_raw, 0.0)[..., list(ANGLES)]), mask, k)
    ours = EdgeConv(f, tuple(channels))
    peer = PygEdgeConv(ours.h, aggr="mean")                                # the same MLP module: the same weights
    node = torch.arange(b * n).reshape(b, n)
    keep = valid & mask[..., None]                                         # edges j → i between real particles
    src = (node[:, None, :].expand(b, n, n).gather(2, idx))[keep]         # (E,) neighbour j
    dst = node[..., None].expand(b, n, k)[keep]                            # (E,) centre i
    real = mask.reshape(-1)
    new_id = torch.full((b * n,), -1, dtype=torch.long)
    new_id[real] = torch.arange(int(real.sum()))
    edge_index = torch.stack([new_id[src], new_id[dst]])                   # (2, E) on the flat graph of real particles
    h_flat = h.reshape(b * n, f)[real].clone()
    h_pad = h.clone()

    def ours_fwd():
        return ours(h_pad, idx, valid)[mask]                                # (n_real, C)

    def peer_fwd():
        return torch.relu(peer(h_flat, edge_index) + ours.shortcut(h_flat))

    def grads(out):
        for p in ours.parameters():
            p.grad = None
        out.pow(2).sum().backward()
        return [p.grad.clone() for p in ours.parameters()]

    return _measure("EdgeConv layer", "04", f"{b} jets × {n} particles, k = {k}, MLP {2 * f}→{channels}", "jets", b,
                    Side("hepcourse EdgeConv (padded, gather)", ours_fwd, grads),
                    Side("PyG EdgeConv (flat graph, scatter)", peer_fwd, grads), FLOAT32, libc)


def attention_row(libc, inp, heads: int = 4, d_head: int = 8) -> Result:
    """Chapter 04's written-out :func:`~hepcourse.models.transformer.attention` (bias + key-padding mask) against
    ``torch.nn.functional.scaled_dot_product_attention`` with the same bias and mask as one additive float mask
    (:func:`~hepcourse.models.transformer.fused_attention`, what the network calls)."""
    from ..models.transformer import attention, fused_attention

    mask = inp.mask
    b, n = mask.shape
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(b, heads, n, d_head, generator=g, requires_grad=True) for _ in range(3))
    bias = torch.randn(b, heads, n, n, generator=g, requires_grad=True)
    leaves = [q, k, v, bias]

    def grads(out):
        for t in leaves:
            t.grad = None
        (out * mask[:, None, :, None]).pow(2).sum().backward()
        return [t.grad.clone() for t in leaves]

    return _measure("attention with pair bias and padding mask", "04",
                    f"{b} jets × {n} particles, {heads} heads × {d_head}", "jets", b,
                    Side("hepcourse attention (written out)", lambda: attention(q, k, v, bias, mask), grads),
                    Side("F.scaled_dot_product_attention", lambda: fused_attention(q, k, v, bias, mask), grads),
                    FLOAT32, libc)


def _energyflow_image_utils():
    """``energyflow.utils.image_utils`` loaded on its own: ``import energyflow`` imports its EMD module, whose
    dependency ``Wasserstein`` 1.0.1 is compiled against NumPy 1 and fails under NumPy 2."""
    spec = importlib.util.find_spec("energyflow")
    if spec is None or spec.origin is None:
        raise ImportError("energyflow is not installed")
    path = Path(spec.origin).parent / "utils" / "image_utils.py"
    mod_spec = importlib.util.spec_from_file_location("_energyflow_image_utils", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def images_row(libc, jets, n_pixels: int = 33) -> Result:
    """Chapter 03's :func:`~hepcourse.data.images.pixelize` against ``energyflow``'s ``pixelate`` on the same
    preprocessed (centred, rotated, flipped) constituents. The conventions match for an odd number of pixels:
    energyflow re-centres on the pixel that holds the p_T centroid (here at 0, the centre of the middle pixel) and
    puts φ along rows and y along columns, as ours does; both normalise each image to unit sum."""
    from ..data import images

    ef = _energyflow_image_utils()
    pt, eta, phi, mask = images._columns(jets)
    x, y = images.preprocess(pt, eta, phi, mask)
    width = 2 * images.HALF_WIDTH
    per_jet = [np.stack([pt[i][mask[i]], x[i][mask[i]], y[i][mask[i]]], axis=1) for i in range(len(pt))]

    def ours():
        return images.pixelize(pt, x, y, mask, n_pixels, images.HALF_WIDTH, normalise=True)

    def peer():
        return np.stack([ef.pixelate(j, npix=n_pixels, img_width=width, nb_chan=1, norm=True)[..., 0] for j in per_jet])

    return _measure("jet images", "03", f"{len(pt)} jets, {n_pixels}×{n_pixels} pixels over ±{images.HALF_WIDTH}",
                    "jets", len(pt), Side("hepcourse pixelize (vectorised NumPy)", ours),
                    Side("energyflow pixelate (one jet per call)", peer), FLOAT64, libc)


def _rapidity(px, py, pz, e):
    """Rapidity as FastJet computes it (``PseudoJet::_set_rap_phi``): m² clipped at 0, so that a constituent with
    E slightly below |p| (float32 storage of a massless particle) gets its pseudorapidity, not a huge value."""
    kt2 = px ** 2 + py ** 2
    m2 = np.maximum(e ** 2 - kt2 - pz ** 2, 0.0)
    rap = 0.5 * np.log((kt2 + m2) / (e + np.abs(pz)) ** 2)
    return np.where(pz > 0, -rap, rap)


def nsubjettiness_row(libc, jets, n_max: int = 3) -> Result:
    """The N-subjettiness formula of chapter 00 (:func:`~hepcourse.physics.jets.nsubjettiness`, here vectorised
    over padded jets) on FastJet's exclusive-k_T axes, against FastJet contrib's ``njettiness`` (KT_Axes, β = 1,
    R₀ = 0.8) through the ``fastjet`` package (:func:`~hepcourse.physics.jets.tau_n`)."""
    import awkward as ak

    from ..physics import jets as pj

    pt, eta, phi, e = (np.asarray(jets.particles)[..., i].astype(np.float64) for i in range(4))
    mask = np.asarray(jets.mask)
    counts = mask.sum(1)
    jag = [ak.unflatten(a[mask], counts) for a in (pt, eta, phi, e)]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    rap = np.where(mask, _rapidity(px, py, pz, np.where(mask, e, 1.0)), 0.0)
    jpx, jpy, jpz = (ak.unflatten(a[mask], counts) for a in (px, py, pz))

    def ours():
        out = np.zeros((len(pt), n_max))
        for n in range(1, n_max + 1):
            axes = pj.kt_axes(jpx, jpy, jpz, jag[3], n)
            ax = ak.to_numpy(ak.fill_none(ak.pad_none(ak.zip({"px": axes.px, "py": axes.py, "pz": axes.pz, "E": axes.E}),
                                                       n, axis=1, clip=True), {"px": 0.0, "py": 0.0, "pz": 1.0, "E": 1e9}))
            a_y = _rapidity(ax["px"], ax["py"], ax["pz"], ax["E"])                # (J, n); padded axes: far away
            a_phi = np.arctan2(ax["py"], ax["px"])
            dr = pj.delta_r(rap[:, :, None], phi[:, :, None], a_y[:, None, :], a_phi[:, None, :]).min(axis=2)
            tau = np.sum(np.where(mask, pt * dr, 0.0), axis=1) / (np.sum(np.where(mask, pt, 0.0), axis=1) * pj.TAU_R0)
            out[:, n - 1] = np.where(counts > n, tau, 0.0)
        return out

    def peer():
        return pj.tau_n(*jag, n_max)

    return _measure("N-subjettiness τ₁, τ₂, τ₃", "00", f"{len(pt)} jets, ≤ {pt.shape[1]} particles, k_T axes", "jets",
                    len(pt), Side("hepcourse formula (NumPy) on FastJet k_T axes", ours),
                    Side("FastJet contrib njettiness (fastjet)", peer), FLOAT64, libc,
                    note="both recluster with FastJet for the axes")


def kinematics_rows(libc, jets) -> list[Result]:
    """ΔR of each constituent to the jet axis and the jet mass (chapter 00, :mod:`hepcourse.physics.jets`) against
    the ``vector`` package (awkward backend) on the same jets."""
    import awkward as ak

    from ..physics import jets as pj

    p = np.asarray(jets.particles).astype(np.float64)
    pt, eta, phi, e = (p[..., i] for i in range(4))
    mask = np.asarray(jets.mask)
    counts = mask.sum(1)
    vec = pj.awkward_four_vectors(*(ak.unflatten(a[mask], counts) for a in (pt, eta, phi, e)))
    jpt, jeta, jphi, jm = pj.jet_four_vector(pt, eta, phi, e, mask=mask)
    jet_vec = ak.sum(vec, axis=1)

    def ours_dr():
        return pj.delta_r(eta, phi, jeta[:, None], jphi[:, None])[mask]

    def peer_dr():
        return ak.to_numpy(ak.flatten(vec.deltaR(jet_vec[:, None])))

    def ours_mass():
        return pj.jet_four_vector(pt, eta, phi, e, mask=mask)[3]

    def peer_mass():
        return ak.to_numpy(ak.sum(vec, axis=1).mass)

    inputs = f"{len(pt)} jets, ≤ {pt.shape[1]} particles"
    return [_measure("ΔR to the jet axis", "00", inputs, "jets", len(pt), Side("hepcourse delta_r (NumPy)", ours_dr),
                     Side("vector deltaR (awkward)", peer_dr), FLOAT64, libc),
            _measure("jet mass (E-scheme sum)", "00", inputs, "jets", len(pt),
                     Side("hepcourse jet_four_vector (NumPy)", ours_mass),
                     Side("vector sum .mass (awkward)", peer_mass), 1e-9, libc,
                     note="m² = E² − p² cancels: relative error ~ ε E²/m²")]


def cfm_row(libc, n: int = 4096, dim: int = 2) -> Result:
    """Chapter 08's :func:`~hepcourse.models.flow_matching.cfm_loss` against ``torchcfm``'s
    ``ConditionalFlowMatcher`` (σ = 0) with the same velocity network, data, noise and times. torchcfm's path
    runs from its x0 (noise) to x1 (data), ours from data (t = 0) to noise (t = 1): its x_t at time t is ours at
    1 − t and its target velocity is minus ours, so the peer's network is called as −v(x, 1 − t)."""
    from torchcfm.conditional_flow_matching import ConditionalFlowMatcher

    from ..models.flow_matching import CFM, CFMConfig, cfm_loss

    g = torch.Generator().manual_seed(2)
    data = torch.tensor(mixture_sample(n, np.random.default_rng(2)), dtype=torch.float32)
    r = torch.randn(n, dim, generator=g)
    t = torch.rand(n, generator=g)
    torch.manual_seed(0)
    model = CFM(CFMConfig(dim=dim, hidden=(64, 64)))
    matcher = ConditionalFlowMatcher(sigma=0.0)

    def ours():
        return cfm_loss(model, data, r=r, t=t)

    def peer():
        tt, xt, ut = matcher.sample_location_and_conditional_flow(r, data, t=1 - t)
        return (-model(xt, 1 - tt) - ut).pow(2).mean()

    def grads(loss):
        for q in model.parameters():
            q.grad = None
        loss.backward()
        return [q.grad.clone() for q in model.parameters()]

    return _measure("conditional flow-matching loss", "08", f"{n} events, 2D, MLP 64×64", "events", n,
                    Side("hepcourse cfm_loss", ours, grads), Side("torchcfm ConditionalFlowMatcher", peer, grads),
                    FLOAT32, libc)


def flow_row(libc, n: int = 4096) -> Result:
    """Our affine coupling flow against zuko's RealNVP of the same architecture: log-density evaluation and its
    gradient on the same events. The two parametrise the scale differently, so their weights and outputs
    cannot agree; agreement is that of the trained densities (:func:`flow_comparison`: test NLLs within their
    statistical errors), here after a short training of both."""
    import zuko

    df = flow_comparison(n_train=5000, n_test=5000, steps=400)
    o, z = df.iloc[0], df.iloc[1]
    x = torch.tensor(mixture_sample(n, np.random.default_rng(3)), dtype=torch.float32)
    torch.manual_seed(0)
    ours = Flow(FlowConfig(dim=2, n_layers=4, hidden=(32, 32), kind="affine"))
    torch.manual_seed(0)
    theirs = zuko.flows.RealNVP(2, transforms=4, hidden_features=(32, 32))

    def back(model):
        def step(lp):
            for q in model.parameters():
                q.grad = None
            (-lp.mean()).backward()
        return step

    nll_o, nll_z = float(o["test_nll"]), float(z["test_nll"])
    err = float(np.hypot(o["nll_err"], z["nll_err"]))
    res = Result("coupling flow log-density", "08", "hepcourse Flow (affine)", "zuko RealNVP",
                 f"{n} events, 2D, 4 affine couplings, MLP 32×32", abs(nll_o - nll_z), 3 * err, "events", measure="|Δ test NLL| (nats)",
                 note=f"agreement: test NLL after 400 training steps, ours {nll_o:.3f} vs zuko {nll_z:.3f} "
                      f"(tolerance 3σ of the difference); the scales are parametrised differently, so weights differ")
    for who, model, lp in (("ours", ours, ours.log_prob), ("peer", theirs, lambda v: theirs().log_prob(v))):
        with torch.no_grad():
            res.rates[f"{who}_fwd"] = rate(lambda: lp(x), n)
        res.rates[f"{who}_fwdbwd"] = rate(lambda: back(model)(lp(x)), n)
        res.peaks[who] = peak_memory(lambda: back(model)(lp(x)), libc)
    return res


def npe_row(libc) -> Result:
    """Chapter 09's NPE against ``sbi``'s (:mod:`hepcourse.bench.sbi_peers`): the same simulations, flow size
    and epochs; agreement is the C2ST AUC of each posterior against the exact one; the rate is training
    simulations per CPU second (forward + backward), memory not measured (a whole training)."""
    from . import sbi_peers

    n_sim, epochs = 15_000, 8
    rows = {r["method"]: r for r in sbi_peers.run(n_sim=n_sim, epochs=epochs)}
    o, p = rows["NPE (hepcourse)"], rows["NPE (sbi)"]
    res = Result("neural posterior estimation", "09", "hepcourse NPE (Flow + train.fit)", "sbi NPE (nsf)",
                 f"{n_sim} simulations × {epochs} epochs, spline flow 2 × 64", abs(o["c2st_mean"] - p["c2st_mean"]),
                 2 * o["c2st_err"], "simulations", measure="|Δ C2ST AUC|",
                 note=f"agreement: C2ST AUC vs the exact posterior, ours {o['c2st_mean']:.3f} vs sbi {p['c2st_mean']:.3f}; "
                      "sbi holds out 10% for validation, so it trains on 0.9 of the simulations")
    res.rates = {"ours_fwdbwd": n_sim * epochs / o["train_cpu_s"], "peer_fwdbwd": 0.9 * n_sim * epochs / p["train_cpu_s"]}
    return res


COMPARISONS = {"edgeconv": ("torch_geometric", "particles"), "attention": (None, "particles"),
               "images": ("energyflow", "jets"), "nsubjettiness": ("fastjet", "jets"), "kinematics": ("vector", "jets"),
               "flows": ("zuko", None), "cfm": ("torchcfm", None), "npe": ("sbi", None)}
"""Each row: the peer package it needs (None: PyTorch itself) and the inputs it takes."""


def run(out: Path | None = None, only: list[str] | None = None, messages: list[str] | None = None) -> list[dict]:
    """Every comparison of :data:`COMPARISONS` (or those in ``only``) whose peer is installed; one thread. Writes
    ``<out>/peers.csv`` (default ``data/benchmarks/``) and returns the rows. Skipped rows are reported in
    ``messages`` (a list the caller passes to collect them)."""
    torch.set_num_threads(1)
    libc = _libc()
    messages = messages if messages is not None else []
    inp = jets = None
    results: list[Result] = []
    for name, (package, data) in COMPARISONS.items():
        if only is not None and name not in only:
            continue
        if package is not None and importlib.util.find_spec(package) is None:
            messages.append(f"skipped {name}: the peer package {package!r} is not installed "
                            "(pip install -c constraints.txt -e '.[peers]'; torchcfm: make peers)")
            continue
        if data is not None and inp is None:
            inp, jets = _jets()
        if name == "edgeconv":
            results.append(edgeconv_row(libc, inp))
        elif name == "attention":
            results.append(attention_row(libc, inp))
        elif name == "images":
            results.append(images_row(libc, jets))
        elif name == "nsubjettiness":
            results.append(nsubjettiness_row(libc, jets))
        elif name == "kinematics":
            results.extend(kinematics_rows(libc, jets))
        elif name == "flows":
            results.append(flow_row(libc))
        elif name == "cfm":
            results.append(cfm_row(libc))
        elif name == "npe":
            results.append(npe_row(libc))
    rows = [r.row() for r in results]
    out = Path(out) if out is not None else bench_dir()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / CSV_NAME, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return rows


def read_csv(path: Path | None = None) -> list[dict]:
    """The rows of ``peers.csv`` (default: the committed ``data/benchmarks/peers.csv``), as strings."""
    with open(Path(path) if path else bench_dir() / CSV_NAME, newline="") as f:
        return list(csv.DictReader(f))


def markdown_table(rows: list[dict]) -> str:
    """The tables of ``book/performance.md``, one line per comparison: first what is compared and whether the
    numbers agree, then the cost (rates in items per CPU second, one thread) — two tables, so each fits the page."""
    def num(v: str) -> str:
        # thousands apart by a narrow no-break space: "1 832 180" is never broken across two lines of a cell
        return "—" if v in ("", None) else f"{float(v):,.0f}".replace(",", "\u202f") if float(v) >= 100 else f"{float(v):.3g}"

    agreement = ["| comparison (chapter) | ours | peer | difference (tolerance) |", "|---|---|---|---|"]
    cost = ["| comparison | forward, ours / peer | forward + backward, ours / peer | peak MB, ours / peer | "
            "our time ÷ peer's |", "|---|---|---|---|---|"]
    for r in rows:
        agree = "✓" if str(r["agree"]) == "True" else "✗"
        agreement.append(f"| {r['comparison']} ({r['chapter']}) | {r['ours']} | {r['peer']} | "
                         f"{r['difference']} ({r['tolerance']}) {agree} |")
        cost.append(f"| {r['comparison']} | {num(r['ours_fwd_per_s'])} / {num(r['peer_fwd_per_s'])} | "
                    f"{num(r['ours_fwdbwd_per_s'])} / {num(r['peer_fwdbwd_per_s'])} | "
                    f"{num(r['ours_peak_mb'])} / {num(r['peer_peak_mb'])} | {num(r['time_ratio'])} |")
    return "\n".join(agreement) + "\n\n" + "\n".join(cost)


PAGE = "book/performance.md"
BEGIN, END = "<!-- begin: table written by `hepcourse bench peers` -->", "<!-- end: table -->"


def write_page(rows: list[dict], page: Path | None = None) -> Path:
    """Replace the table between the markers of ``book/performance.md`` by :func:`markdown_table` of ``rows``."""
    from .. import config

    page = Path(page) if page else config.ROOT / PAGE
    text = page.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{BEGIN}\n{markdown_table(rows)}\n{END}{tail}")
    return page
