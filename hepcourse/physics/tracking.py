"""Charged tracks in a solenoid: radius of curvature, sagitta and momentum resolution.

A particle of charge q (in units of e) and transverse momentum :math:`p_T` in a field B along
the beam moves on a circle of radius

.. math:: R\\,[\\text{m}] = \\frac{p_T\\,[\\text{GeV}]}{0.3\\,|q|\\,B\\,[\\text{T}]} ,

(0.3 = c in units of GeV/(T·m), more precisely 0.299792458). Over a chord of length L (the lever
arm of the tracker) the arc deviates from the chord by the sagitta

.. math:: s = R - \\sqrt{R^2 - L^2/4} \\;\\approx\\; \\frac{L^2}{8R} = \\frac{0.3\\,|q|\\,B\\,L^2}{8\\,p_T} ,

so :math:`\\ln s` falls with slope −1 in :math:`\\ln p_T`: a first-principles check of any
generator or simulation of tracks (the applications text on generative surrogates [apps_b_surrogates], item B7). A sagitta measured with resolution
:math:`\\sigma_s` gives :math:`\\sigma_{p_T}/p_T = \\sigma_s/s \\propto p_T` (Gluckstern; PDG review
"Particle detectors at accelerators"): tracking is precise at low :math:`p_T` and calorimetry at
high energy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["C_LIGHT", "radius", "sagitta", "sagitta_approx", "pt_from_sagitta", "fit_power_law"]

C_LIGHT = 0.3
"""The course's rounded c in GeV/(T·m); use 0.299792458 for precision work."""


def radius(pt, b_field, charge: float = 1.0):
    """Radius of curvature in m: :math:`R = p_T / (0.3 |q| B)`."""
    return np.asarray(pt, dtype=float) / (C_LIGHT * abs(charge) * float(b_field))


def sagitta(pt, b_field, lever_arm, charge: float = 1.0):
    """Exact sagitta in m of the arc over a chord of length ``lever_arm`` (m):
    :math:`s = R - \\sqrt{R^2 - L^2/4}`, written as :math:`(L^2/4)/(R + \\sqrt{R^2 - L^2/4})` to
    avoid the cancellation at large R. NaN when the track curls up (2R < L)."""
    r = radius(pt, b_field, charge)
    half = 0.25 * float(lever_arm) ** 2
    with np.errstate(invalid="ignore"):
        return half / (r + np.sqrt(r ** 2 - half))


def sagitta_approx(pt, b_field, lever_arm, charge: float = 1.0):
    """Small-angle sagitta :math:`s = 0.3 |q| B L^2 / (8 p_T)` in m."""
    return C_LIGHT * abs(charge) * float(b_field) * float(lever_arm) ** 2 / (8.0 * np.asarray(pt, dtype=float))


def pt_from_sagitta(s, b_field, lever_arm, charge: float = 1.0):
    """Invert the small-angle formula: :math:`p_T = 0.3 |q| B L^2 / (8 s)`."""
    return C_LIGHT * abs(charge) * float(b_field) * float(lever_arm) ** 2 / (8.0 * np.asarray(s, dtype=float))


def fit_power_law(x, y):
    """Least-squares fit of :math:`\\ln y = a \\ln x + b`: returns ``(a, exp(b), sigma_a)``,
    the slope, the constant of :math:`y = C x^a`, and the slope's standard error."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    a, b = np.polyfit(lx, ly, 1)
    resid = ly - (a * lx + b)
    n = len(lx)
    sigma = np.sqrt(np.sum(resid ** 2) / max(n - 2, 1) / np.sum((lx - lx.mean()) ** 2))
    return float(a), float(np.exp(b)), float(sigma)
