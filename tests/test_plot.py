"""hepcourse.plot draws what it says it draws."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hepcourse import metrics, plot  # noqa: E402
from hepcourse.physics import toys  # noqa: E402


def test_roc_plot_draws_rejection_against_efficiency():
    plot.use_style()
    x, y = toys.GAUSS_1D.sample(2000, 2000, np.random.default_rng(0))
    roc = metrics.roc_curve(y, x[:, 0])
    ax = plot.roc_plot({"x": roc})
    line = ax.get_lines()[0]
    keep = roc.eps_b > 0
    np.testing.assert_allclose(line.get_xdata(), roc.eps_s[keep])
    np.testing.assert_allclose(line.get_ydata(), 1 / roc.eps_b[keep])
    assert ax.get_yscale() == "log" and "AUC" in ax.get_legend().get_texts()[0].get_text()
    ax2 = plot.roc_plot({"x": roc}, rejection=False)
    np.testing.assert_allclose(ax2.get_lines()[0].get_xdata(), roc.eps_b)
    plt.close("all")


def test_hist_ratio_of_a_sample_with_itself_is_one():
    a = np.random.default_rng(1).normal(size=5000)
    fig, (ax, rax) = plot.hist_ratio({"a": a, "same": a.copy()}, bins=np.linspace(-3, 3, 13), xlabel="x")
    ratios = rax.containers[-1].lines[0].get_ydata()
    np.testing.assert_allclose(ratios, 1.0)
    assert rax.get_xlabel() == "x" and len(fig.axes) == 2
    plt.close("all")


def test_roc_plot_ratio_panel_divides_by_the_reference():
    # closed-form curves: ε_B = ε_S (rejection 1/ε_S) and ε_B = ε_S² (rejection 1/ε_S²); their ratio is 1/ε_S
    e = np.linspace(0, 1, 2001)
    curves = {"square": metrics.ROC(eps_s=e, eps_b=e**2, thresholds=np.full(e.size, np.nan)),
              "diagonal": metrics.ROC(eps_s=e, eps_b=e.copy(), thresholds=np.full(e.size, np.nan))}
    ax, rax = plot.roc_plot(curves, ratio_to="diagonal")
    assert ax.figure is rax.figure and ax.get_yscale() == "log"
    ratios = {line.get_label(): line for line in rax.get_lines()}
    eps = ratios["diagonal"].get_xdata()
    assert eps.min() > 0 and eps.max() < 1
    np.testing.assert_allclose(ratios["diagonal"].get_ydata(), 1.0)
    np.testing.assert_allclose(ratios["square"].get_ydata(), 1 / eps, rtol=1e-3)
    # same colours as the curves above, x label only on the lower panel
    assert ratios["square"].get_color() == ax.get_lines()[0].get_color()
    assert ax.get_xlabel() == "" and "epsilon_S" in rax.get_xlabel() and "diagonal" in rax.get_ylabel()
    plt.close("all")


def test_roc_plot_ratio_panel_on_given_axes_and_bad_names():
    x, y = toys.GAUSS_1D.sample(2000, 2000, np.random.default_rng(2))
    rocs = {"x": metrics.roc_curve(y, x[:, 0]), "x + noise": metrics.roc_curve(y, x[:, 0] + np.random.default_rng(3).normal(size=len(y)))}
    fig, axes = plt.subplots(2, 1, sharex=True)
    ax, rax = plot.roc_plot(rocs, ax=axes, ratio_to="x")
    assert (ax, rax) == tuple(axes)
    noisy = [line for line in rax.get_lines() if line.get_label() == "x + noise"][0]
    expected = rocs["x + noise"].rejection_at(noisy.get_xdata()) / rocs["x"].rejection_at(noisy.get_xdata())
    np.testing.assert_allclose(noisy.get_ydata(), expected)
    assert np.all(noisy.get_ydata() < 1.05)                  # a noisier score never rejects more
    with pytest.raises(ValueError, match="not one of"):
        plot.roc_plot(rocs, ratio_to="exact")
    with pytest.raises(ValueError, match="rejection=True"):
        plot.roc_plot(rocs, ratio_to="x", rejection=False)
    plt.close("all")


def test_chain_diagram_draws_one_box_per_stage_in_rows():
    stages = [(f"stage {k}", f"detail {k}\\nsecond line") for k in range(6)]
    ax = plot.chain_diagram(stages, ncols=4)
    boxes = [p for p in ax.patches if type(p).__name__ == "FancyBboxPatch"]
    arrows = [p for p in ax.patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(boxes) == 6 and len(arrows) == 5
    # a snake: the first row left to right, the second right to left, so the fifth box sits below the fourth
    centre = lambda b: (b.get_x() + b.get_width() / 2, b.get_y() + b.get_height() / 2)  # noqa: E731
    np.testing.assert_allclose(centre(boxes[3]), (3, 0), atol=1e-9)
    np.testing.assert_allclose(centre(boxes[4]), (3, -1), atol=1e-9)
    np.testing.assert_allclose(centre(boxes[5]), (2, -1), atol=1e-9)
    titles = [t.get_text() for t in ax.texts]
    assert "stage 5" in titles and titles.count("detail 0\\nsecond line") == 1
    with pytest.raises(ValueError, match="at least one"):
        plot.chain_diagram([])
    plt.close("all")
