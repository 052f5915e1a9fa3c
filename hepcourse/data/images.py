"""Jet images: constituents → centred, rotated, flipped, pixelized η–φ images (chapter 03).

A jet image replaces the list of a jet's constituents by a grid of pixels in the (η, φ) plane
whose intensity is the transverse momentum that falls into each pixel, like the towers of a
calorimeter (Plehn et al. [plehn2022modern], Sec. 2.1.1; de Oliveira et al., arXiv:1511.05190). Before pixelizing we
remove what the classification should not depend on (Plehn et al. [plehn2022modern], Sec. 2.1.2, "preprocessing"; the
same steps as in Kasieczka et al., arXiv:1701.08784, with the pT-weighted centroid as the centre):

1. **Centre.** Shift the jet so that its pT-weighted centroid sits at the origin,

       η_c = Σ_i p_T,i η_i / Σ_i p_T,i,   φ_c = φ_ref + Σ_i p_T,i Δφ(φ_i, φ_ref) / Σ_i p_T,i,
       x_i = η_i − η_c,                   y_i = Δφ(φ_i, φ_c),

   with Δφ wrapped into [−π, π) (:func:`hepcourse.physics.jets.delta_phi`) and φ_ref the azimuth
   of the hardest constituent. Averaging the raw φ instead would put the centre of a jet at
   φ ≈ ±π on the wrong side of the detector.
2. **Rotate.** The pT-weighted second moments C_xx = Σ w x², C_yy = Σ w y², C_xy = Σ w x y
   (w_i = p_T,i / Σ p_T) define the principal axis, at the angle α = ½ atan2(2 C_xy, C_xx − C_yy)
   to the x (η) axis. Rotating every constituent by β = π/2 − α,

       x' = x cos β − y sin β,   y' = x sin β + y cos β,

   makes that axis vertical: afterwards C'_xy = 0 and C'_yy ≥ C'_xx. (A rotation in the η–φ plane
   is not a Lorentz transformation; for jets with R ≲ 1 the change of the jet mass is small,
   Plehn et al. [plehn2022modern], Sec. 5.2 on contrastive learning.)
3. **Flip.** Mirror y' → −y' if the lower half (y' < 0) carries more p_T than the upper half, and
   x' → −x' if the left half carries more than the right: the upper half and the right half each
   carry at least half of the p_T. (Plehn et al. flip "the third maximum" to the right; the halves
   are defined for every jet, also one without a third maximum.)
4. **Pixelize.** Sum p_T over the constituents in each pixel of an n × n grid over
   [−h, h]² (default 40 × 40 over ±0.8, pixels of 0.04 × 0.04, close to Plehn et al.'s
   "0.04 × 2.25°"); optionally divide by the sum of the pixels, so that each image sums to 1.

Images have the shape (N, n, n) with rows along y (φ') and columns along x (η'): ``image[k, i, j]``
is pixel row i (φ' from −h upwards) and column j (η' from −h to the right), so
``plt.imshow(image, origin="lower", extent=(-h, h, -h, h))`` draws η' horizontally and φ' vertically.

All functions work on padded arrays of shape (N, P) with a boolean ``mask`` (N, P) marking the
real constituents (:func:`hepcourse.data.load` with ``format="numpy"``), vectorised over jets.

:func:`constituent_vectors` gives the flat input of a TopoDNN-like fully connected network
(the p_T fraction and the preprocessed (x', y') of the leading constituents), the baseline that
the landscape of top taggers (Butter et al., arXiv:1902.09914) lists as "ATLAS TopoDNN".
"""

from __future__ import annotations

import numpy as np

from ..physics.jets import delta_phi

__all__ = ["centre", "principal_angle", "rotate", "flip", "preprocess", "pixelize", "jet_images", "load_images",
           "constituent_vectors", "pixel_correlation", "image_mass", "N_PIXELS", "HALF_WIDTH"]

N_PIXELS = 40
"""Pixels per side of a jet image (Plehn et al. [plehn2022modern], Sec. 2.1.1: 40 × 40)."""
HALF_WIDTH = 0.8
"""Half-width of the image window in η' and φ' (the jet radius R = 0.8)."""


def _weights(pt, mask):
    """p_T with padded entries set to 0, as float64, and the total p_T per jet (N, 1)."""
    w = np.where(mask, np.asarray(pt, dtype=np.float64), 0.0)          # (N, P)
    total = w.sum(axis=1, keepdims=True)                                 # (N, 1)
    return w, np.where(total > 0, total, 1.0)


def centre(pt, eta, phi, mask):
    """Step 1: coordinates relative to the pT-weighted centroid, ``(x, y)`` each (N, P).

    x = η − η_c and y = Δφ(φ, φ_c), with φ_c averaged as Δφ to the hardest constituent, so a jet
    that straddles φ = ±π is centred correctly. Padded entries are set to 0.
    """
    mask = np.asarray(mask, dtype=bool)
    w, total = _weights(pt, mask)
    eta, phi = np.asarray(eta, dtype=np.float64), np.asarray(phi, dtype=np.float64)
    hardest = np.argmax(w, axis=1)                                       # (N,)
    phi_ref = np.take_along_axis(phi, hardest[:, None], axis=1)          # (N, 1)
    dphi_ref = delta_phi(phi, phi_ref)                                   # (N, P), in [−π, π)
    eta_c = (w * eta).sum(axis=1, keepdims=True) / total
    phi_c = phi_ref + (w * dphi_ref).sum(axis=1, keepdims=True) / total
    x = np.where(mask, eta - eta_c, 0.0)
    y = np.where(mask, delta_phi(phi, phi_c), 0.0)
    return x, y


def principal_angle(pt, x, y, mask):
    """Angle α (N,) of the principal (major) axis of the pT-weighted second moments to the x axis:
    α = ½ atan2(2 C_xy, C_xx − C_yy), in (−π/2, π/2]. Assumes centred coordinates."""
    w, total = _weights(pt, mask)
    w = w / total
    cxx, cyy, cxy = (w * x * x).sum(axis=1), (w * y * y).sum(axis=1), (w * x * y).sum(axis=1)
    return 0.5 * np.arctan2(2.0 * cxy, cxx - cyy)


def rotate(x, y, angle):
    """Rotate every point of each jet counter-clockwise by ``angle`` (N,): returns ``(x', y')``."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return x * c - y * s, x * s + y * c


def flip(pt, x, y, mask):
    """Step 3: mirror y → −y where the lower half carries more p_T than the upper one, and
    x → −x where the left half carries more than the right one (ties are not flipped)."""
    w, _ = _weights(pt, mask)
    up, down = (w * (y > 0)).sum(axis=1), (w * (y < 0)).sum(axis=1)
    right, left = (w * (x > 0)).sum(axis=1), (w * (x < 0)).sum(axis=1)
    y = np.where((down > up)[:, None], -y, y)
    x = np.where((left > right)[:, None], -x, x)
    return x, y


def preprocess(pt, eta, phi, mask, rotate_jet: bool = True, flip_jet: bool = True):
    """Steps 1–3 (centre, rotate the principal axis to vertical, flip the hardest half up and to the
    right): the preprocessed coordinates ``(x', y')``, each (N, P), 0 at padded entries."""
    mask = np.asarray(mask, dtype=bool)
    x, y = centre(pt, eta, phi, mask)
    if rotate_jet:
        x, y = rotate(x, y, np.pi / 2 - principal_angle(pt, x, y, mask))
    if flip_jet:
        x, y = flip(pt, x, y, mask)
    return np.where(mask, x, 0.0), np.where(mask, y, 0.0)


def pixelize(pt, x, y, mask, n_pixels: int = N_PIXELS, half_width: float = HALF_WIDTH,
             normalise: bool = False, y_range: tuple[float, float] | None = None,
             x_range: tuple[float, float] | None = None) -> np.ndarray:
    """Step 4: the image (N, n_y, n_x) with the summed p_T of the constituents in each pixel.

    Pixel (i, j) covers x ∈ [x_lo + j Δx, x_lo + (j+1) Δx) and y ∈ [y_lo + i Δy, y_lo + (i+1) Δy);
    constituents outside the window are dropped. By default the window is [−h, h]² with
    n × n pixels; ``x_range``/``y_range`` set other windows (e.g. the full azimuth (−π, π] for a
    calorimeter image, where ``n_pixels`` may be a pair (n_y, n_x)). ``normalise=True`` divides each
    image by its sum (images without any p_T in the window stay 0).
    """
    n_y, n_x = (n_pixels, n_pixels) if np.isscalar(n_pixels) else n_pixels
    x_lo, x_hi = x_range or (-half_width, half_width)
    y_lo, y_hi = y_range or (-half_width, half_width)
    mask = np.asarray(mask, dtype=bool)
    w, _ = _weights(pt, mask)
    j = np.floor((np.asarray(x) - x_lo) / (x_hi - x_lo) * n_x).astype(np.int64)   # column (x) index
    i = np.floor((np.asarray(y) - y_lo) / (y_hi - y_lo) * n_y).astype(np.int64)   # row (y) index
    inside = mask & (j >= 0) & (j < n_x) & (i >= 0) & (i < n_y)
    jet = np.broadcast_to(np.arange(len(w))[:, None], w.shape)
    flat = (jet * n_y + i) * n_x + j                                     # one index per pixel of all images
    images = np.bincount(flat[inside], weights=w[inside], minlength=len(w) * n_y * n_x)
    images = images.reshape(len(w), n_y, n_x)                           # (N, n_y, n_x)
    if normalise:
        total = images.sum(axis=(1, 2), keepdims=True)
        images = images / np.where(total > 0, total, 1.0)
    return images


def _columns(jets):
    """pT, η, φ and the mask of a :class:`~hepcourse.data.datasets.JetTensors`."""
    fields = tuple(jets.particle_fields)
    missing = [f for f in ("pt", "eta", "phi") if f not in fields]
    if missing:
        raise ValueError(f"jet images need the particle fields pt, eta, phi; {missing} missing from {fields}: "
                         "load with particle_fields=('pt', 'eta', 'phi', ...)")
    p = np.asarray(jets.particles)
    return (p[..., fields.index("pt")], p[..., fields.index("eta")], p[..., fields.index("phi")],
            np.asarray(jets.mask, dtype=bool))


def jet_images(jets, n_pixels: int = N_PIXELS, half_width: float = HALF_WIDTH, normalise: bool = True,
               rotate_jet: bool = True, flip_jet: bool = True) -> np.ndarray:
    """Preprocessed jet images (N, n, n), float32, of a ``JetTensors`` with the fields pt, eta, phi
    (``hepcourse.data.load(..., format="numpy", particle_fields=("pt", "eta", "phi"))``).

    Steps 1–4 of the module docstring; ``normalise=True`` (default) makes each image sum to 1, so
    the images carry the pT *fractions* and not the jet pT. ``rotate_jet``/``flip_jet`` switch
    steps 2 and 3 off (to look at their effect)."""
    pt, eta, phi, mask = _columns(jets)
    x, y = preprocess(pt, eta, phi, mask, rotate_jet=rotate_jet, flip_jet=flip_jet)
    return pixelize(pt, x, y, mask, n_pixels, half_width, normalise=normalise).astype(np.float32)


def load_images(split: str = "train", n: int | None = None, name: str = "jets-top-qcd",
                n_pixels: int = N_PIXELS, half_width: float = HALF_WIDTH, normalise: bool = True,
                max_particles: int = 128, **load_kwargs):
    """``(images, jets)`` of a split: :func:`jet_images` (N, n, n) and the ``JetTensors`` of
    :func:`hepcourse.data.load` (labels, high-level features), ``n`` jets per class."""
    from .datasets import load

    jets = load(name, split=split, n=n, format="numpy", max_particles=max_particles,
                particle_fields=("pt", "eta", "phi"), **load_kwargs)
    return jet_images(jets, n_pixels, half_width, normalise), jets


def constituent_vectors(jets, n_constituents: int = 30) -> np.ndarray:
    """Flat input (N, 3 n) of a TopoDNN-like network: for the n hardest constituents, in order of
    decreasing p_T, the triplets (p_T,i / Σ p_T, x'_i, y'_i) with the preprocessed coordinates of
    :func:`preprocess`; zeros where a jet has fewer constituents.

    ``jets`` is a ``JetTensors`` with the fields pt, eta, phi. Layout: [pt_1, x_1, y_1, pt_2, ...].
    """
    pt, eta, phi, mask = _columns(jets)
    x, y = preprocess(pt, eta, phi, mask)
    w, total = _weights(pt, mask)
    order = np.argsort(-w, axis=1, kind="stable")[:, :n_constituents]    # (N, n) hardest first
    take = lambda a: np.take_along_axis(a, order, axis=1)                # noqa: E731
    keep = take(mask)
    triplets = np.stack([take(w / total), take(x), take(y)], axis=-1)    # (N, n, 3)
    triplets = np.where(keep[..., None], triplets, 0.0)
    if triplets.shape[1] < n_constituents:                               # fewer padded slots than asked for
        triplets = np.pad(triplets, ((0, 0), (0, n_constituents - triplets.shape[1]), (0, 0)))
    return triplets.reshape(len(w), -1).astype(np.float32)


def pixel_correlation(images, scores) -> np.ndarray:
    """Pearson correlation of each pixel with the network output over a set of images (Plehn et al. [plehn2022modern],
    Eq. 2.26),

        r_ij = Σ (x_ij − x̄_ij)(y − ȳ) / sqrt( Σ (x_ij − x̄_ij)² · Σ (y − ȳ)² ),

    the sums running over the images. ``images`` (N, H, W), ``scores`` (N,); returns (H, W), with 0
    for pixels that are constant (e.g. always empty). r_ij > 0 marks signal-like pixels."""
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)    # (N, H·W)
    y = np.asarray(scores, dtype=np.float64).ravel()
    dx, dy = x - x.mean(axis=0), y - y.mean()
    norm = np.sqrt((dx ** 2).sum(axis=0) * (dy ** 2).sum())
    r = np.divide(dx.T @ dy, norm, out=np.zeros(x.shape[1]), where=norm > 0)
    return r.reshape(np.shape(images)[1:])


def image_mass(images, half_width: float = HALF_WIDTH) -> np.ndarray:
    """Invariant mass (N,) of the pixels, each a massless particle at its pixel centre (η', φ')
    with the pixel's p_T: m² = (Σ E)² − |Σ p|², E = p_T cosh η', p_z = p_T sinh η',
    p_x = p_T cos φ', p_y = p_T sin φ'. For images in GeV (``normalise=False``) this is the jet
    mass up to the pixel size, the window and the η–φ rotation of the preprocessing."""
    images = np.asarray(images, dtype=np.float64)
    n_y, n_x = images.shape[-2:]
    eta = -half_width + (np.arange(n_x) + 0.5) * 2 * half_width / n_x     # column centres
    phi = -half_width + (np.arange(n_y) + 0.5) * 2 * half_width / n_y     # row centres
    phi, eta = np.meshgrid(phi, eta, indexing="ij")                        # (H, W)
    sums = [(images * f).sum(axis=(1, 2)) for f in (np.cosh(eta), np.sinh(eta), np.cos(phi), np.sin(phi))]
    e, pz, px, py = sums
    return np.sqrt(np.maximum(e ** 2 - pz ** 2 - px ** 2 - py ** 2, 0.0))
