"""Helpers for the test cells of the assignments: checks that fail with a message that teaches.

A bare ``assert`` tells a learner only that something is wrong. These helpers say what was
expected, what came out, and (``hint``) the likely mistake::

    expect_close("AUC of the exact ratio", auc, 0.8365, atol=0.004,
                 hint="did you swap signal and background?")
"""

from __future__ import annotations

import inspect

import numpy as np

__all__ = ["CheckFailed", "expect", "expect_finite", "expect_shape", "expect_close", "expect_in_range",
           "expect_own_implementation"]


class CheckFailed(AssertionError):
    """A test of an assignment failed; the message is meant for the learner."""


def _fail(message: str, hint: str = "") -> None:
    raise CheckFailed(message + (f"\nHint: {hint}" if hint else ""))


def expect(condition: bool, message: str, hint: str = "") -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not bool(condition):
        _fail(message, hint)


def expect_finite(what: str, value, hint: str = "") -> np.ndarray:
    """Fail unless ``value`` converts to a finite float array; return that array."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        _fail(f"{what}: expected numbers, got {type(value).__name__} {value!r:.80}", hint)
    if not np.all(np.isfinite(arr)):
        _fail(f"{what}: contains NaN or infinity", hint)
    return arr


def expect_shape(what: str, value, shape: tuple) -> np.ndarray:
    """Fail unless ``value`` is an array of ``shape``; return it as a float array."""
    arr = np.asarray(value)
    if arr.shape != tuple(shape):
        _fail(f"{what}: expected an array of shape {tuple(shape)}, got shape {arr.shape}")
    return arr


def expect_close(what: str, got, expected, *, atol: float = 0.0, rtol: float = 1e-7, hint: str = "") -> None:
    """Fail unless ``|got − expected| ≤ atol + rtol·|expected|`` element-wise."""
    got_arr = expect_finite(what, got, hint)
    exp_arr = np.asarray(expected, dtype=float)
    if got_arr.shape != exp_arr.shape and got_arr.size != 1 and exp_arr.size != 1:
        _fail(f"{what}: expected shape {exp_arr.shape}, got {got_arr.shape}", hint)
    bad = np.abs(got_arr - exp_arr) > atol + rtol * np.abs(exp_arr)
    if np.any(bad):
        if got_arr.size == 1 and exp_arr.size == 1:
            detail = f"expected {float(exp_arr):.6g}, got {float(got_arr):.6g}"
        else:
            i = np.unravel_index(np.argmax(np.broadcast_to(bad, np.broadcast(got_arr, exp_arr).shape)),
                                 np.broadcast(got_arr, exp_arr).shape)
            detail = (f"{int(np.sum(bad))} of {bad.size} values differ; e.g. at index {tuple(int(k) for k in i)}: "
                      f"expected {np.broadcast_to(exp_arr, bad.shape)[i]:.6g}, "
                      f"got {np.broadcast_to(got_arr, bad.shape)[i]:.6g}")
        tol = f" (tolerance {atol:g} + {rtol:g}·|expected|)" if atol or rtol else ""
        _fail(f"{what}: {detail}{tol}", hint)


def expect_in_range(what: str, got, low: float, high: float, hint: str = "") -> None:
    """Fail unless ``low ≤ got ≤ high``."""
    value = float(expect_finite(what, got, hint))
    if not low <= value <= high:
        _fail(f"{what}: expected a value in [{low:.6g}, {high:.6g}], got {value:.6g}", hint)


def expect_own_implementation(func, forbidden: tuple[str, ...] = ("hepcourse",)) -> None:
    """Fail if the source of ``func`` uses one of the ``forbidden`` names.

    The course package contains reference implementations; an assignment asks you to write the
    function yourself, so calling the reference earns no points for that part.
    """
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        _fail(f"could not read the source of {getattr(func, '__name__', func)!r}: define it in the notebook")
    used = [name for name in forbidden if name in source]
    if used:
        _fail(f"{func.__name__} uses {', '.join(used)}: this part asks you to implement it yourself "
              "(the course package's version is the reference the tests compare with).")


def _guard(namespace: dict) -> None:
    """Undo what a submission could have done to make tests pass without running them.

    The autograder puts a call to this first in every test cell: it reloads this module (in case
    its functions were patched), rebinds the helpers in the notebook's namespace (in case they
    were redefined), restores the built-in ``AssertionError`` and removes IPython handlers that
    would swallow exceptions. The test cell then ends by printing a per-run nonce, which the
    grader requires (a cell whose nonce is missing did not run to its end and earns nothing).
    """
    import builtins
    import importlib
    import sys

    real = next(c for c in Exception.__subclasses__() if c.__name__ == "AssertionError" and c.__module__ == "builtins")
    builtins.AssertionError = real
    module = importlib.reload(sys.modules[__name__])
    for name in module.__all__:
        namespace[name] = getattr(module, name)
    try:
        shell = get_ipython()  # noqa: F821  (defined inside IPython)
    except NameError:
        return
    shell.custom_exceptions = ()
