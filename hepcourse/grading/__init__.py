"""Grading: helpers for the assignments' test cells, releases, and the course's autograder.

* :mod:`.checks`      the test cells' helpers (messages that teach)
* :mod:`.course`      where assignments live, the grading folder, nbgrader's settings
* :mod:`.grader`      ``autograde``: sanitize with nbgrader, run in the sandbox, record
* :mod:`.sandbox`, :mod:`.runner`   bubblewrap, limits, the notebook runner inside the sandbox
* :mod:`.classroom`   the learner: ``start``, ``check``, ``report``
* :mod:`.instructor`  a class: ``collect``, ``grade_class``, ``feedback``, ``export``
* :mod:`.doctor`      ``hepcourse grade doctor``: is this machine ready to grade?
* :mod:`.release`, :mod:`.submissions`, :mod:`.errors` (the grading benchmark is :mod:`hepcourse.bench.grading`)

``autograde`` is the one function the test suite grades through (see ``grader.py``). It is
imported lazily, so that a test cell importing :mod:`hepcourse.grading.checks` stays fast.
"""

__all__ = ["autograde", "PartGrade", "SubmissionGrade"]


def __getattr__(name):
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(".grader", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
