"""The course's plotting style and its standard figures, drawn through mplhep.

``use_style()`` once per notebook (mplhep's ROOT style, scaled to notebook figures); then ``roc_plot``
(background rejection 1/ε_B against signal efficiency ε_S, the particle-physics way to draw a ROC curve,
optionally with each rejection relative to a reference below), ``hist_ratio`` (histograms with their
statistical errors, ``mplhep.histplot``, and a ratio panel below) and ``chain_diagram`` (a chain of boxes
joined by arrows: the stages of a simulation or of an analysis, each with a few lines of detail).
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import mplhep
import numpy as np

from .metrics import ROC

STYLE = {
    "figure.figsize": (6.0, 4.5),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 11,
    "xtick.major.size": 6,
    "xtick.minor.size": 3,
    "ytick.major.size": 6,
    "ytick.minor.size": 3,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "image.cmap": "viridis",
}
"""The course's changes to mplhep's ROOT style: notebook-sized figures and fonts, a light grid."""


def use_style() -> None:
    """Apply the course style to matplotlib: ``mplhep.style.ROOT`` with :data:`STYLE` on top."""
    plt.style.use([mplhep.style.ROOT, STYLE])


RATIO_EPS_S = np.linspace(0.05, 0.95, 91)
"""Signal efficiencies at which ``roc_plot(..., ratio_to=...)`` compares rejections."""


def roc_plot(curves: Mapping[str, ROC], ax=None, rejection: bool = True, random_guess: bool = True,
             ratio_to: str | None = None):
    """Plot several ROC curves, optionally with their rejection relative to a reference below.

    ``rejection=True`` draws 1/ε_B (log scale) against ε_S, as in Plehn et al. [plehn2022modern], Fig. 4, and the
    top-tagging comparisons; ``False`` draws the textbook ε_S against ε_B with the AUC in the legend.
    Returns the axes.

    ``ratio_to`` (the name of one of ``curves``, rejection form only) adds a lower panel with
    R(ε_S) = [1/ε_B(ε_S)] / [1/ε_B,ref(ε_S)] for each curve, at the ε_S of :data:`RATIO_EPS_S`
    (0.05 to 0.95; each ε_B interpolated as in :meth:`ROC.rejection_at`), so 1 for the reference.
    ``ax`` is then ``None`` (a new figure) or a pair ``(ax_main, ax_ratio)``, and the pair is returned.
    """
    if ratio_to is not None:
        if ratio_to not in curves:
            raise ValueError(f"ratio_to={ratio_to!r} is not one of the curves {list(curves)}")
        if not rejection:
            raise ValueError("the ratio panel compares rejections: use rejection=True")
        if ax is None:
            w, h = plt.rcParams["figure.figsize"]
            _, (ax, rax) = plt.subplots(2, 1, figsize=(w, 1.4 * h), sharex=True, layout="constrained",
                                        gridspec_kw={"height_ratios": (3, 1.3)})
        else:
            ax, rax = ax
    ax = ax or plt.figure().add_subplot()
    lines = {}
    for name, roc in curves.items():
        if rejection:
            keep = roc.eps_b > 0
            lines[name], = ax.plot(roc.eps_s[keep], 1.0 / roc.eps_b[keep], label=f"{name} (AUC {roc.auc:.4f})")
        else:
            ax.plot(roc.eps_b, roc.eps_s, label=f"{name} (AUC {roc.auc:.4f})")
    if rejection:
        if random_guess:
            e = np.linspace(0.01, 1, 100)
            ax.plot(e, 1 / e, "k:", lw=1, label="random guess")
        ax.set_yscale("log")
        ax.set_xlabel(r"signal efficiency $\epsilon_S$")
        ax.set_ylabel(r"background rejection $1/\epsilon_B$")
        ax.set_xlim(0, 1)
    else:
        if random_guess:
            ax.plot([0, 1], [0, 1], "k:", lw=1, label="random guess")
        ax.set_xlabel(r"background efficiency $\epsilon_B$")
        ax.set_ylabel(r"signal efficiency $\epsilon_S$")
        ax.set_aspect("equal")
    ax.legend()
    if ratio_to is None:
        return ax

    reference = curves[ratio_to].rejection_at(RATIO_EPS_S)
    for name, roc in curves.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = roc.rejection_at(RATIO_EPS_S) / reference
        rax.plot(RATIO_EPS_S, ratio, color=lines[name].get_color(), label=name)
    rax.set_xlabel(ax.get_xlabel())
    ax.set_xlabel("")
    rax.set_ylabel(f"rejection /\n{ratio_to}")
    return ax, rax


def hist_ratio(samples: Mapping[str, np.ndarray], bins, reference: str | None = None,
               weights: Mapping[str, np.ndarray] | None = None, density: bool = True,
               xlabel: str = "", ylabel: str | None = None, ratio_range=(0.5, 1.5)):
    """Histograms of several samples with their ratio to ``reference`` in a lower panel.

    Error bars in the ratio are the statistical (Poisson, with weights: √Σw²) uncertainty of the
    numerator only. Returns ``(fig, (ax_main, ax_ratio))``.
    """
    names = list(samples)
    reference = reference or names[0]
    weights = weights or {}
    fig, (ax, rax) = plt.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
    hists = {}
    for name in names:
        w = weights.get(name)
        h, edges = np.histogram(samples[name], bins=bins, weights=w)
        h2, _ = np.histogram(samples[name], bins=edges, weights=None if w is None else w ** 2)
        norm = h.sum() * np.diff(edges) if density else np.ones_like(np.diff(edges))
        hists[name] = (h / norm, np.sqrt(h2) / norm, edges)
        mplhep.histplot(h / norm, edges, yerr=np.sqrt(h2) / norm, ax=ax, label=name)
    ref, _, edges = hists[reference]
    for name in names:
        h, err, _ = hists[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio, rerr = h / ref, err / ref
        ok = np.isfinite(ratio) & np.isfinite(rerr)              # bins empty in the reference have no ratio
        if name == reference:                                    # the line at 1 with the reference's own errors
            mplhep.histplot(np.where(ok, ratio, np.nan), edges, yerr=np.where(ok, rerr, 0.0), ax=rax, histtype="step")
        else:
            mplhep.histplot(np.where(ok, ratio, np.nan), edges, yerr=np.where(ok, rerr, 0.0), ax=rax,
                            histtype="errorbar", markersize=3)
    rax.axhline(1.0, color="k", lw=0.8)
    rax.set_ylim(*ratio_range)
    rax.set_ylabel(f"ratio to\n{reference}")
    rax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or ("density" if density else "events"))
    ax.legend()
    return fig, (ax, rax)


def chain_diagram(stages, ncols: int = 4, ax=None, box_width: float = 0.86, box_height: float = 0.62,
                  colors=None, fontsize: int = 9):
    """Draw ``stages`` as boxes joined by arrows, ``ncols`` boxes per row, in a snake: the first row
    runs left to right, the second right to left below it, and so on, so every arrow is short.

    ``stages`` is a sequence of ``(title, detail)`` pairs; the title is printed in bold at the top
    of the box and the detail (a string with new lines) below it. Box ``k`` sits in row
    ``r = k // ncols`` at the centre ``(c, −r)``, with column ``c = k % ncols`` in even rows and
    ``ncols − 1 − k % ncols`` in odd ones. Returns the axes; the boxes are its patches in order.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    stages = list(stages)
    if not stages:
        raise ValueError("chain_diagram needs at least one stage")
    nrows = -(-len(stages) // ncols)
    width = min(ncols, len(stages))
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2 * width, (1.0 + 2.4 * box_height) * nrows), layout="constrained")
    colors = colors or [plt.cm.Pastel1(k % 9) for k in range(len(stages))]

    def centre(k):
        row, col = divmod(k, ncols)
        return (col if row % 2 == 0 else ncols - 1 - col), -row

    centres = [centre(k) for k in range(len(stages))]
    for (title, detail), (x, y), color in zip(stages, centres, colors):
        ax.add_patch(FancyBboxPatch((x - box_width / 2, y - box_height / 2), box_width, box_height,
                                    boxstyle="round,pad=0.02", facecolor=color, edgecolor="0.3", lw=1))
        ax.text(x, y + box_height / 2 - 0.05, title, ha="center", va="top", fontsize=fontsize + 1, weight="bold")
        ax.text(x, y + box_height / 2 - 0.16, detail, ha="center", va="top", fontsize=fontsize, linespacing=1.3)
    for (x0, y0), (x1, y1) in zip(centres[:-1], centres[1:]):
        if y0 == y1:       # next box in the same row, to the right or to the left
            sign = 1 if x1 > x0 else -1
            start, end = (x0 + sign * box_width / 2, y0), (x1 - sign * box_width / 2, y1)
        else:              # end of a row: straight down to the box below
            start, end = (x0, y0 - box_height / 2), (x1, y1 + box_height / 2)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="0.25", lw=1.4))
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(-(nrows - 1) - box_height / 2 - 0.08, box_height / 2 + 0.08)
    ax.set_axis_off()
    return ax
