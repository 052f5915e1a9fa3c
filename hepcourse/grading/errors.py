"""The errors of grading that a user can act on.

Library code raises these (never ``SystemExit``); the ``hepcourse`` command turns them into a
message and an exit status. Each message says what went wrong and what to do.
"""

from __future__ import annotations


class GradingError(Exception):
    """Base class: a problem with the course, the submissions or the grading machine."""


class UnknownAssignment(GradingError, LookupError):
    """No assignment has this name."""


class SandboxUnavailable(GradingError, RuntimeError):
    """bubblewrap is missing or cannot start a sandbox on this machine."""


class SecretsExposed(GradingError):
    """Hidden tests or the gradebook would be visible inside the sandbox."""


class CellsChanged(GradingError):
    """The graded cells of an assignment changed after submissions were recorded."""


class SubmissionConflict(GradingError):
    """A student already has a submission filed, and no ``--update`` was asked for."""
