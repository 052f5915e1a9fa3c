"""Fixed-step ODE integrators and the divergence integral: the one place where the course integrates
dx/dt = v(x, t) (flow-matching sampling and likelihoods, chapter 08).

* :func:`odeint` — Euler (1st order), midpoint (2nd) or classical Runge–Kutta (RK4, 4th order) with
  ``n_steps`` equal steps from t0 to t1 (t1 < t0 integrates backwards). The global error falls like
  h, h² and h⁴ with the step h = |t1 − t0|/n_steps; one RK4 step costs four evaluations of v.
* :func:`divergence` — ∇ₓ·v(x, t) = Σ_i ∂v_i/∂x_i, exactly by automatic differentiation (one backward pass
  per dimension: fine for the few dimensions of the course's toys and showers).
* :func:`odeint_with_divergence` — integrates x together with ℓ(t) = ∫ ∇·v dt along the trajectory, the
  log-Jacobian of the flow map (Liouville: d ln|det ∂x(t)/∂x(t0)|/dt = ∇·v; Plehn et al.
  [plehn2022modern], Sec. 4.4.2, Eq. 4.156).

``v`` is any callable ``v(x, t)`` with x (B, D) and t a tensor (B,) of the current time.
"""

from __future__ import annotations

from typing import Callable

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
METHODS = ("euler", "midpoint", "rk4")


def _step(f, x: torch.Tensor, t: float, h: float, method: str) -> torch.Tensor:
    def at(time):
        return torch.full((x.shape[0],), time, dtype=x.dtype, device=x.device)

    if method == "euler":
        return x + h * f(x, at(t))
    if method == "midpoint":
        return x + h * f(x + 0.5 * h * f(x, at(t)), at(t + 0.5 * h))
    k1 = f(x, at(t))
    k2 = f(x + 0.5 * h * k1, at(t + 0.5 * h))
    k3 = f(x + 0.5 * h * k2, at(t + 0.5 * h))
    k4 = f(x + h * k3, at(t + h))
    return x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def odeint(v: VelocityFn, x: torch.Tensor, t0: float = 0.0, t1: float = 1.0, n_steps: int = 20,
           method: str = "rk4") -> torch.Tensor:
    """x(t1) for dx/dt = v(x, t) and x(t0) = ``x`` (B, D), with ``n_steps`` fixed steps of ``method``
    (``"euler"``, ``"midpoint"`` or ``"rk4"``). Evaluations of v: n_steps × (1, 2, 4)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be ≥ 1, got {n_steps}")
    h = (t1 - t0) / n_steps
    for k in range(n_steps):
        x = _step(v, x, t0 + k * h, h, method)
    return x


def divergence(v: VelocityFn, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(v(x, t) (B, D), ∇ₓ·v (B,)) by autograd, one backward pass per dimension; both detached."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = v(x, t)                                                          # (B, D)
        div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i in range(x.shape[1]):
            grad, = torch.autograd.grad(out[:, i].sum(), x, retain_graph=i < x.shape[1] - 1)
            div = div + grad[:, i]
    return out.detach(), div.detach()


def odeint_with_divergence(v: VelocityFn, x: torch.Tensor, t0: float = 0.0, t1: float = 1.0, n_steps: int = 20,
                           method: str = "rk4") -> tuple[torch.Tensor, torch.Tensor]:
    """(x(t1) (B, D), ∫_{t0}^{t1} ∇·v(x(t), t) dt (B,)): the state augmented by the divergence integral,
    integrated with the same steps as :func:`odeint`."""
    d = x.shape[1]

    def augmented(state, t):
        out, div = divergence(v, state[:, :d], t)
        return torch.cat([out, div[:, None]], dim=1)                           # (B, D + 1)

    state = torch.cat([x.detach(), x.new_zeros(x.shape[0], 1)], dim=1)
    state = odeint(augmented, state, t0, t1, n_steps, method)
    return state[:, :d], state[:, d]
