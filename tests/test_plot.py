"""hepcourse.plot draws what it says it draws."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
