"""Symbolic regression by enumeration with least-squares constants (chapter 09).

PySR (Cranmer 2023), the tool of Plehn et al. [plehn2022modern], Sec. 6.3.3, evolves expression trees
with simulated annealing and runs on Julia, which a laptop without the internet cannot install. For the
small formulas of the score this module enumerates instead: an expression is a sum of at most
``max_terms`` products of at most ``max_factors`` primitives (named NumPy functions of the inputs,
e.g. ``x1``, ``sin(dphi)``), each product with a constant fitted by linear least squares,

    f(x) = c_1 Π_{k∈P_1} g_k(x) + … + c_m Π_{k∈P_m} g_k(x) [+ c_0].

The complexity counts nodes as PySR does: each constant, each primitive's own nodes (``x1``: 1,
``sin(dphi)``: 2), one per multiplication and one per addition, so a·x1·x2·sin Δφ has 8 nodes, as in
Table 7 of the main text. The loss is the mean squared error (Eq. 6.81) and the model-selection score

    MSE* = MSE + parsimony · #nodes                                    (Eq. 6.82)

(here with the MSE divided by the variance of the target, so that the parsimony is dimensionless). PySR
accepts a mutation that changes MSE* from old to new with the annealing probability

    p = min[exp(−(MSE*_new − MSE*_old) / (T · MSE*_old)), 1]            (Eq. 6.83)

(:func:`accept_prob`); :func:`anneal` runs such a walk over the products of primitives, to measure its
acceptance rate and how many expressions it fits before it finds the best one, against the
exhaustive count of :func:`search`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

__all__ = ["Primitive", "Candidate", "SearchResult", "mse_star", "accept_prob", "products", "fit_terms",
           "search", "anneal"]


@dataclass(frozen=True)
class Primitive:
    """A named function of the inputs ``x`` (a mapping name → array (N,)) and its number of nodes."""

    name: str
    fn: Callable[[Mapping[str, np.ndarray]], np.ndarray]
    nodes: int = 1


@dataclass
class Candidate:
    """One fitted expression: its terms (each a tuple of primitive names, multiplied), whether it has an
    additive constant, the fitted constants (one per term, then the offset), the normalised MSE
    (MSE / Var(y)) and the number of nodes."""

    terms: tuple[tuple[str, ...], ...]
    offset: bool
    coef: np.ndarray
    nmse: float
    nodes: int

    def formula(self, digits: int = 4) -> str:
        """The expression as text, e.g. ``'1.086 * x1 * x2 * sin(dphi)'``."""
        parts = [f"{c:.{digits}g} * " + " * ".join(t) for c, t in zip(self.coef, self.terms)]
        if self.offset:
            parts.append(f"{self.coef[-1]:.{digits}g}")
        return " + ".join(parts).replace("+ -", "- ")


@dataclass
class SearchResult:
    """What :func:`search` returns: every fitted candidate, the hall of fame (the best candidate for
    each complexity, when it beats every simpler one), the winner (lowest MSE*) and the cost."""

    candidates: list[Candidate]
    hall_of_fame: list[Candidate]
    best: Candidate
    n_tried: int = field(default=0)

    def best_within(self, max_nodes: int) -> Candidate:
        """The lowest-MSE candidate with at most ``max_nodes`` nodes."""
        return min((c for c in self.candidates if c.nodes <= max_nodes), key=lambda c: c.nmse)


def mse_star(nmse: float, nodes: int, parsimony: float) -> float:
    """Eq. 6.82: the loss plus ``parsimony`` per node."""
    return float(nmse) + parsimony * nodes


def accept_prob(new: float, old: float, temperature: float) -> float:
    """Eq. 6.83: min[exp(−(new − old)/(T · old)), 1] for the MSE* of the new and the old expression;
    1 whenever the new one is at least as good."""
    if new <= old:
        return 1.0
    return float(np.exp(-(new - old) / (temperature * old)))


def products(names, max_factors: int) -> list[tuple[str, ...]]:
    """All products of 1 … ``max_factors`` primitives (with repetition, order ignored), as sorted name tuples."""
    names = sorted(names)
    return [p for k in range(1, max_factors + 1) for p in itertools.combinations_with_replacement(names, k)]


def _nodes(terms, offset: bool, primitives: Mapping[str, Primitive]) -> int:
    n = 0
    for t in terms:
        n += 1 + sum(primitives[k].nodes for k in t) + len(t)          # its constant, the factors, the products
    n += 2 * offset + (len(terms) - 1)                                   # + c0 (a constant and a '+'), the sums
    return n


def fit_terms(columns: Mapping[tuple[str, ...], np.ndarray], y: np.ndarray, terms, offset: bool,
              primitives: Mapping[str, Primitive]) -> Candidate:
    """Least-squares constants of one expression; ``columns`` holds each product's values (N,)."""
    a = [columns[t] for t in terms] + ([np.ones_like(y)] if offset else [])
    a = np.stack(a, axis=1)                                              # (N, n_constants)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    nmse = float(np.mean((a @ coef - y) ** 2) / np.var(y))
    return Candidate(tuple(terms), offset, coef, nmse, _nodes(terms, offset, primitives))


def _columns(x, primitives, prods) -> dict:
    vals = {name: np.asarray(p.fn(x), dtype=float) for name, p in primitives.items()}
    return {t: np.prod([vals[k] for k in t], axis=0) for t in prods}


def search(x: Mapping[str, np.ndarray], y, primitives: Mapping[str, Primitive], max_factors: int = 3,
           max_terms: int = 1, offset: bool = True, parsimony: float = 1e-3, max_nodes: int | None = None
           ) -> SearchResult:
    """Exhaustive search: every sum of up to ``max_terms`` distinct products of up to ``max_factors``
    primitives, without and (if ``offset``) with an additive constant, fitted by least squares; those with
    more than ``max_nodes`` nodes are skipped before fitting. ``n_tried`` counts the fitted expressions."""
    y = np.asarray(y, dtype=float)
    prods = products(primitives, max_factors)
    cols = _columns(x, primitives, prods)
    cands = []
    for m in range(1, max_terms + 1):
        for terms in itertools.combinations(prods, m):
            for off in ((False, True) if offset else (False,)):
                if max_nodes is not None and _nodes(terms, off, primitives) > max_nodes:
                    continue
                cands.append(fit_terms(cols, y, terms, off, primitives))
    by_nodes = sorted(cands, key=lambda c: (c.nodes, c.nmse))
    hof, best_so_far = [], np.inf
    for c in by_nodes:
        if c.nmse < best_so_far - 1e-12:                               # the best of its complexity beats all simpler
            hof.append(c)
            best_so_far = c.nmse
    best = min(cands, key=lambda c: mse_star(c.nmse, c.nodes, parsimony))
    return SearchResult(cands, hof, best, len(cands))


def anneal(x: Mapping[str, np.ndarray], y, primitives: Mapping[str, Primitive], target: tuple[str, ...],
           rng: np.random.Generator, max_factors: int = 3, temperature: float = 0.1, parsimony: float = 1e-3,
           max_steps: int = 500, start: tuple[str, ...] | None = None) -> dict:
    """A Metropolis walk over single products c·Π g_k (no offset) with the acceptance of Eq. 6.83:
    each step adds, removes or replaces one factor at random and is accepted with
    :func:`accept_prob` of the MSE*s. Stops when it reaches ``target`` (a sorted tuple of names).

    Returns ``{"found": bool, "steps": proposals made, "accepted": proposals accepted,
    "acceptance": accepted/steps, "n_fitted": distinct expressions fitted (the cost)}``.
    """
    y = np.asarray(y, dtype=float)
    names = sorted(primitives)
    vals = {name: np.asarray(p.fn(x), dtype=float) for name, p in primitives.items()}
    cache: dict[tuple[str, ...], float] = {}

    def score(t):
        if t not in cache:
            col = {t: np.prod([vals[k] for k in t], axis=0)}
            c = fit_terms(col, y, (t,), False, primitives)
            cache[t] = mse_star(c.nmse, c.nodes, parsimony)
        return cache[t]

    state = tuple(sorted(start)) if start else (names[rng.integers(len(names))],)
    cur = score(state)
    accepted = steps = 0
    target = tuple(sorted(target))
    while state != target and steps < max_steps:
        moves = ["replace"] + (["add"] if len(state) < max_factors else []) + (["remove"] if len(state) > 1 else [])
        move = moves[rng.integers(len(moves))]
        s = list(state)
        if move == "add":
            s.append(names[rng.integers(len(names))])
        elif move == "remove":
            s.pop(rng.integers(len(s)))
        else:
            s[rng.integers(len(s))] = names[rng.integers(len(names))]
        new_state = tuple(sorted(s))
        steps += 1
        new = score(new_state)
        if rng.uniform() < accept_prob(new, cur, temperature):
            state, cur = new_state, new
            accepted += 1
    return {"found": state == target, "steps": steps, "accepted": accepted,
            "acceptance": accepted / max(steps, 1), "n_fitted": len(cache)}
