"""Grading: helpers for the assignments' test cells, releases, and the course's autograder.

``autograde`` is the one function the test suite grades through (see ``autograde.py``).
"""

from .autograde import PartGrade, SubmissionGrade, autograde

__all__ = ["autograde", "PartGrade", "SubmissionGrade"]
