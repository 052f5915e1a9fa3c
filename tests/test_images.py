"""hepcourse.data.images (chapter 03): jet-image preprocessing on synthetic jets with exact answers."""

import numpy as np
import pytest

from hepcourse.data import images
from hepcourse.data.datasets import JetTensors
EPS = np.finfo(np.float64).eps   # 2.2e-16: float64 tolerances below are multiples of it, >= 100x the rounding bound
FEW = 1e3 * EPS                  # closed forms with O(1) values: a few roundings, <~ 4 eps
ANGLE = 1e3 * EPS * 2 * np.pi     # a few roundings of angles <= 2π


def as_padded(*jets, pad_to=6, garbage=7.7):
    """Pad lists of (pt, eta, phi) triplets to (N, pad_to) arrays; padded slots hold garbage."""
    pt, eta, phi = (np.full((len(jets), pad_to), garbage) for _ in range(3))
    mask = np.zeros((len(jets), pad_to), dtype=bool)
    for k, jet in enumerate(jets):
        for i, (a, b, c) in enumerate(jet):
            pt[k, i], eta[k, i], phi[k, i], mask[k, i] = a, b, c, True
    return pt, eta, phi, mask


def random_jet(rng, n=25, eta0=0.3, phi0=1.0, spread=0.25):
    pt = rng.exponential(20.0, n) + 1.0
    return pt, eta0 + spread * rng.standard_normal(n), phi0 + spread * rng.standard_normal(n)


def test_centroid_with_phi_wrapping_exact():
    # pT 1 at (0.1, 3.1) and pT 3 at (0.5, -3.1): 2π - 6.2 = 0.0832 apart in φ, across φ = ±π
    pt, eta, phi, mask = as_padded([(1.0, 0.1, 3.1), (3.0, 0.5, -3.1)])
    x, y = images.centre(pt, eta, phi, mask)
    d = 2 * np.pi - 6.2
    np.testing.assert_allclose(x[0, :2], [0.1 - 0.4, 0.5 - 0.4], atol=ANGLE)
    np.testing.assert_allclose(y[0, :2], [-0.75 * d, 0.25 * d], atol=ANGLE)
    assert np.all(x[0, 2:] == 0) and np.all(y[0, 2:] == 0)                 # padded slots are zeroed


def test_centred_jet_has_zero_first_moments():
    rng = np.random.default_rng(1)
    jets = [list(zip(*random_jet(rng, n=20, phi0=p))) for p in (0.0, 3.0, -3.05, np.pi)]
    pt, eta, phi, mask = as_padded(*jets, pad_to=24)
    x, y = images.centre(pt, eta, phi, mask)
    w = np.where(mask, pt, 0)
    tol = 100 * w.shape[1] * EPS * np.pi * w.sum(1).max()          # n-term sums of p_T × coordinate (|η|, |φ| <= π)
    np.testing.assert_allclose((w * x).sum(1), 0, atol=tol)
    np.testing.assert_allclose((w * y).sum(1), 0, atol=tol)
    assert np.abs(y).max() < 2.0                                             # no particle sent around the circle


@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 90.0, 135.0, -60.0])
def test_principal_axis_becomes_vertical(angle_deg):
    # points on a line through the centroid at a known angle: after rotation all have x' = 0
    a = np.radians(angle_deg)
    t = np.array([-0.4, -0.1, 0.2, 0.5])
    w = np.array([1.0, 2.0, 3.0, 1.0])
    t = t - (w * t).sum() / w.sum()
    pt, eta, phi, mask = as_padded(list(zip(w, t * np.cos(a), 1.0 + t * np.sin(a))))
    x, y = images.preprocess(pt, eta, phi, mask)
    np.testing.assert_allclose(x[0, :4], 0, atol=FEW)
    np.testing.assert_allclose(np.sort(np.abs(y[0, :4])), np.sort(np.abs(t)), atol=FEW)
    alpha = images.principal_angle(pt, *images.centre(pt, eta, phi, mask), mask)[0]
    assert np.cos(2 * (alpha - a)) == pytest.approx(1.0, abs=1e-12)        # an axis is defined modulo π


def test_rotation_makes_second_moments_diagonal_with_vertical_major_axis():
    rng = np.random.default_rng(2)
    pt0, eta0, phi0 = random_jet(rng, n=30)
    eta0 = 0.3 + 2.0 * (eta0 - 0.3)                                          # elongated in η before rotation
    pt, eta, phi, mask = as_padded(list(zip(pt0, eta0, phi0)), pad_to=32)
    x, y = images.preprocess(pt, eta, phi, mask)
    w = np.where(mask, pt, 0) / pt0.sum()
    # the angle's rounding (<~ n eps of the trace) times the eigenvalue gap, plus the sum's own rounding
    assert abs((w * x * y).sum()) < 100 * len(pt0) * EPS * (w * (x ** 2 + y ** 2)).sum()
    assert (w * y * y).sum() > (w * x * x).sum()


def test_preprocessing_is_invariant_under_rotations_and_reflections_of_the_jet():
    rng = np.random.default_rng(3)
    pt0, eta0, phi0 = random_jet(rng, n=30, eta0=-0.5, phi0=2.9)
    ref = images.preprocess(*as_padded(list(zip(pt0, eta0, phi0)), pad_to=30))
    for angle in (0.7, 2.0, -2.5):
        c, s = np.cos(angle), np.sin(angle)
        de, dp = eta0 + 0.5, phi0 - 2.9
        moved = list(zip(pt0, -0.5 + c * de - s * dp, 2.9 + s * de + c * dp))
        got = images.preprocess(*as_padded(moved, pad_to=30))
        np.testing.assert_allclose(got[0], ref[0], atol=ANGLE)
        np.testing.assert_allclose(got[1], ref[1], atol=ANGLE)
    mirrored = list(zip(pt0, eta0, 2 * 2.9 - phi0))                          # φ → −φ around the jet
    got = images.preprocess(*as_padded(mirrored, pad_to=30))
    np.testing.assert_allclose(got[0], ref[0], atol=ANGLE)
    np.testing.assert_allclose(got[1], ref[1], atol=ANGLE)


def test_flip_puts_the_hardest_half_up_and_right():
    rng = np.random.default_rng(4)
    jets = [list(zip(*random_jet(rng, n=15, phi0=p))) for p in np.linspace(-3, 3, 7)]
    pt, eta, phi, mask = as_padded(*jets, pad_to=15)
    x, y = images.preprocess(pt, eta, phi, mask)
    w = np.where(mask, pt, 0)
    assert np.all((w * (y > 0)).sum(1) >= (w * (y < 0)).sum(1))
    assert np.all((w * (x > 0)).sum(1) >= (w * (x < 0)).sum(1))
    # a hand-made case: on the vertical axis, pT 1 at y = +0.3 and pT 3 at y = −0.1 → flipped
    pt, x, y, mask = as_padded([(1.0, 0.0, 0.3), (3.0, 0.0, -0.1)])
    x, y = images.flip(pt, x, y, mask)
    np.testing.assert_allclose(y[0, :2], [-0.3, 0.1])


def test_pixelize_sums_and_positions():
    pt, x, y, mask = as_padded([(5.0, 0.02, -0.78), (2.5, -0.79, 0.79), (1.0, 0.5, 0.9), (4.0, 0.021, -0.779)])
    img = images.pixelize(pt, x, y, mask)                                    # x, y given directly
    assert img.shape == (1, 40, 40)
    assert img[0, 0, 20] == 9.0 and img[0, 39, 0] == 2.5                   # (x 0.02, y −0.78) → row 0, column 20
    assert img.sum() == pytest.approx(11.5, abs=1e-12)                       # the particle at y = 0.9 is outside
    norm = images.pixelize(pt, x, y, mask, normalise=True)
    assert norm.sum() == pytest.approx(1.0, abs=1e-12)
    coarse = images.pixelize(pt, x, y, mask, n_pixels=(4, 8), y_range=(-np.pi, np.pi), x_range=(-1, 1))
    assert coarse.shape == (1, 4, 8) and coarse.sum() == pytest.approx(12.5)


def test_image_of_a_jet_across_phi_pi_equals_the_same_jet_at_phi_zero():
    rng = np.random.default_rng(5)
    pt0, eta0, dphi0 = random_jet(rng, n=40, phi0=0.0, spread=0.2)
    at_zero = as_padded(list(zip(pt0, eta0, dphi0)), pad_to=40)
    across = as_padded(list(zip(pt0, eta0, np.mod(dphi0 + np.pi + np.pi, 2 * np.pi) - np.pi)), pad_to=40)
    assert np.ptp(across[2][0]) > 6                                           # really on both sides of ±π
    fields = ("pt", "eta", "phi")
    make = lambda a: JetTensors(np.stack(a[:3], -1), a[3], np.zeros((1, 0)), np.zeros(1, int), fields, ())  # noqa: E731
    img0, img1 = images.jet_images(make(at_zero), normalise=False), images.jet_images(make(across), normalise=False)
    np.testing.assert_allclose(img1, img0, atol=1e-4)
    x, y = images.preprocess(*at_zero)
    inside = (np.abs(x[0]) < 0.8) & (np.abs(y[0]) < 0.8)
    assert img0.sum() == pytest.approx(pt0[inside].sum(), rel=1e-6)        # pixel sum = pT inside the window
    assert images.jet_images(make(across)).sum() == pytest.approx(1.0, abs=1e-5)


def test_constituent_vectors_are_sorted_and_zero_padded():
    pt, eta, phi, mask = as_padded([(1.0, 0.0, 0.1), (5.0, 0.1, 0.0), (2.0, -0.1, 0.0)], pad_to=4)
    jets = JetTensors(np.stack([pt, eta, phi], -1), mask, np.zeros((1, 0)), np.zeros(1, int), ("pt", "eta", "phi"), ())
    v = images.constituent_vectors(jets, n_constituents=5)
    assert v.shape == (1, 15)
    np.testing.assert_allclose(v[0, 0::3], [5 / 8, 2 / 8, 1 / 8, 0, 0], atol=1e-7)
    assert np.all(v[0, 9:] == 0)
    x, y = images.preprocess(pt, eta, phi, mask)
    np.testing.assert_allclose(v[0, 1:3], [x[0, 1], y[0, 1]], atol=1e-7)    # the hardest one's (x', y')


def test_missing_fields_are_named():
    jets = JetTensors(np.zeros((1, 2, 2)), np.ones((1, 2), bool), np.zeros((1, 0)), np.zeros(1, int), ("pt", "deta"), ())
    with pytest.raises(ValueError, match="eta"):
        images.jet_images(jets)


def test_real_jets_average_image():
    imgs, jets = images.load_images("test", n=200)
    assert imgs.shape == (400, 40, 40) and imgs.dtype == np.float32
    np.testing.assert_allclose(imgs.sum(axis=(1, 2)), 1.0, atol=1e-5)
    centres = (np.arange(40) + 0.5) * 0.04 - 0.8
    mean = imgs.mean(0)
    # the centroid of the average image is at the origin (up to particles outside the window)
    assert abs((mean.sum(0) * centres).sum()) < 0.02 and abs((mean.sum(1) * centres).sum()) < 0.02
    top, qcd = imgs[jets.labels == 1].mean(0), imgs[jets.labels == 0].mean(0)
    r = np.hypot(*np.meshgrid(centres, centres))
    assert (top * r).sum() > 1.3 * (qcd * r).sum()                          # top jets are wider


def test_pixel_correlation_is_the_per_pixel_pearson_coefficient():
    rng = np.random.default_rng(8)
    imgs = rng.exponential(1.0, (200, 3, 4))
    imgs[:, 0, 0] = 0.0                                                      # an always-empty pixel
    scores = imgs[:, 1, 2] + 0.5 * rng.standard_normal(200)
    r = images.pixel_correlation(imgs, scores)
    assert r.shape == (3, 4) and r[0, 0] == 0.0
    for i, j in [(1, 2), (2, 3), (0, 1)]:
        assert r[i, j] == pytest.approx(np.corrcoef(imgs[:, i, j], scores)[0, 1], abs=1e-12)


def test_image_mass_of_two_pixels():
    # two massless pixels: m² = 2 pT1 pT2 (cosh Δη − cos Δφ), at the centres of their pixels
    img = np.zeros((1, 40, 40))
    img[0, 20, 10], img[0, 5, 30] = 200.0, 100.0                            # (η', φ') = (−0.38, 0.02) and (0.42, −0.58)
    d_eta, d_phi = 0.42 + 0.38, -0.58 - 0.02
    expected = np.sqrt(2 * 200 * 100 * (np.cosh(d_eta) - np.cos(d_phi)))
    assert images.image_mass(img)[0] == pytest.approx(expected, rel=1e-12)
