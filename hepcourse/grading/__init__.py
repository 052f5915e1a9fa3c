"""Grading: helpers for the assignments' test cells, releases, and the course's autograder.

``autograde`` is the one function the test suite grades through (see ``grader.py``). It is
imported lazily, so that a test cell importing :mod:`hepcourse.grading.checks` stays fast.
"""

__all__ = ["autograde", "PartGrade", "SubmissionGrade"]


def __getattr__(name):
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(".grader", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
