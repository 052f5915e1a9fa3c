"""nbgrader's bookkeeping of a submission, at a fraction of its cost: the same checks, the same gradebook.

Once the notebooks run in warm sandboxes, what is left of the grading overhead is nbgrader's work in the
grading process: about 0.6 s of CPU per ch01 submission (profiled with cProfile and py-spy, see
``tests/README.md``), against 4 s for the notebook's cells. Most of it is repeated work:

* **nbgrader's metadata schema, checked on every cell.** ``CheckCellMetadata`` validates each cell's
  nbgrader metadata with ``jsonschema.validate``, which first checks the *schema* against JSON Schema's
  meta-schema, for every cell of every notebook (a third of nbgrader's time).
  :class:`CheckCellMetadataOnce` checks the schema once and then runs the very same validation
  (``best_match`` of the validator's errors, nbgrader's own code for the version checks and the rest);
* **a database engine per gradebook.** nbgrader opens a ``Gradebook`` (a new SQLAlchemy engine) about
  fifteen times per submission, and SQLAlchemy's cache of compiled statements belongs to an engine, so
  every query is compiled again. :func:`fast_gradebooks` hands nbgrader one engine per database
  URL for the duration of a grading run (its connections are still closed as nbgrader closes them);
  and a new gradebook is stamped with the database revision read in this process, not by a new
  ``alembic heads`` process (3 s of CPU per grading run, :func:`fast_gradebooks`);
* **sanitizing twice.** Recording the executed notebook is a second ``nbgrader autograde``, which
  sanitizes the submission again (the cells restored from the gradebook, their metadata checked) to the
  same notebook the first one wrote. :class:`LoadSanitized` hands it the first one's result instead;
* **a commit per cell.** nbgrader's ``SaveAutoGrades`` commits after each graded and each answer cell,
  and each commit makes the next cell's lookups reload from the database. :class:`SaveAutoGradesOnce`
  records the same scores and comments and commits once per notebook.

The gradebook and the autograded notebooks come out identical (``tests/test_grading_bookkeeping.py``
compares them with plain nbgrader's, byte for byte).
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.nbgraderformat.v3 import MetadataValidatorV3
from nbgrader.preprocessors import CheckCellMetadata, NbGraderPreprocessor, SaveAutoGrades
from traitlets import Unicode

_VALIDATORS: dict[str, object] = {}
_LOCK = threading.Lock()


def schema_validator(schema: dict):
    """A validator of ``schema``, checked against its meta-schema once per process: what
    ``jsonschema.validate(instance, schema)`` builds (and checks) on every call."""
    from jsonschema.validators import validator_for

    key = json.dumps(schema, sort_keys=True)
    with _LOCK:
        if key not in _VALIDATORS:
            cls = validator_for(schema)
            cls.check_schema(schema)
            _VALIDATORS[key] = cls(schema)
        return _VALIDATORS[key]


class _SchemaCheckedOnce(BaseMetadataValidator):
    """``BaseMetadataValidator.validate_cell`` with the schema checked once (cells of the current
    schema version); other cells go through nbgrader's own code, which reports their version."""

    def validate_cell(self, cell) -> None:
        meta = cell.metadata.get("nbgrader") if "nbgrader" in cell.metadata else None
        if meta is None or meta.get("schema_version", 0) != self.schema_version:
            return super().validate_cell(cell)
        from jsonschema.exceptions import best_match

        error = best_match(schema_validator(self.schema).iter_errors(meta))   # as jsonschema.validate
        if error is not None:
            raise error


class MetadataValidatorOnce(MetadataValidatorV3, _SchemaCheckedOnce):
    """nbgrader's metadata validator (version 3: its own checks of grade ids, points, cell types), whose
    base check of each cell against the schema is :class:`_SchemaCheckedOnce`'s."""


class CheckCellMetadataOnce(CheckCellMetadata):
    """nbgrader's ``CheckCellMetadata`` with :class:`MetadataValidatorOnce`: the same errors, logged and
    raised the same way."""

    def preprocess(self, nb, resources):
        import traceback

        from nbgrader.nbgraderformat import ValidationError

        try:
            MetadataValidatorOnce().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg)
        return nb, resources


def sanitize_preprocessors() -> list:
    """nbgrader's sanitizing steps (``Autograde.sanitize_preprocessors``), with :class:`CheckCellMetadataOnce`."""
    from nbgrader.converters.autograde import Autograde

    return [CheckCellMetadataOnce if step is CheckCellMetadata else step
            for step in Autograde.class_traits()["sanitize_preprocessors"].default()]


class LoadSanitized(NbGraderPreprocessor):
    """The sanitizing step of the recording ``autograde``: the notebook the first ``autograde`` sanitized
    (``<runs_dir>/<student>/sanitized.ipynb``), instead of sanitizing the submission a second time."""

    runs_dir = Unicode("", help="folder holding <student>/sanitized.ipynb").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        return nbformat.read(Path(self.runs_dir) / student / "sanitized.ipynb", as_version=4), resources


class SaveAutoGradesOnce(SaveAutoGrades):
    """nbgrader's ``SaveAutoGrades`` (the same scores, flags and comments) with one commit per notebook
    instead of one per cell: the session's per-cell commits are flushes, and the notebook's changes are
    committed together at its end (all or nothing)."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = Gradebook(self.db_url)
        with self.gradebook:
            session = self.gradebook.db()          # the scoped session's Session
            session.commit = session.flush         # nbgrader's per-cell commit
            try:
                nb, resources = super(SaveAutoGrades, self).preprocess(nb, resources)
            finally:
                del session.commit
            session.commit()
        return nb, resources


def alembic_head() -> str:
    """The revision nbgrader stamps a new gradebook with, read in this process (nbgrader runs the
    ``alembic heads`` command for it: 3 s of CPU for a new Python process, once per new gradebook);
    '' where its migrations have more than one head (nbgrader's way then decides)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:        # the ini nbgrader writes
        heads = ScriptDirectory.from_config(AlembicConfig(ini)).get_heads()
    return heads[0] if len(heads) == 1 else ""


@contextmanager
def fast_gradebooks():
    """Within the block, every nbgrader ``Gradebook`` of one database URL shares one SQLAlchemy engine
    (its cache of compiled statements) instead of a new one each, whose tables are created (if missing)
    by the first only, and a new gradebook is stamped with :func:`alembic_head`; the engines are
    disposed at the end."""
    import nbgrader.api as api

    metadata = api.Base.metadata
    originals, engines, head, created = (api.create_engine, api.get_alembic_version), {}, [], set()

    def create_engine(url, *args, **kwargs):
        key = repr((str(url), args, sorted(kwargs.items())))
        if key not in engines:
            engines[key] = originals[0](url, *args, **kwargs)
        return engines[key]

    def get_alembic_version():
        if not head:
            head.append(alembic_head() or originals[1]())
        return head[0]

    def create_all(bind, *args, **kwargs):      # Gradebook() creates any missing table, every time
        if args or kwargs or id(bind) not in created:
            type(metadata).create_all(metadata, bind, *args, **kwargs)
            if not args and not kwargs and any(bind is e for e in engines.values()):
                created.add(id(bind))

    api.create_engine, api.get_alembic_version = create_engine, get_alembic_version
    metadata.create_all = create_all
    try:
        yield engines
    finally:
        api.create_engine, api.get_alembic_version = originals
        del metadata.create_all
        for engine in engines.values():
            engine.dispose()
