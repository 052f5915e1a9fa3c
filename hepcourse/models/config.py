"""What every model's configuration dataclass shares.

A model's hyperparameters live in one ``@dataclass`` (``MLPConfig``, ``FlowConfig``, …) that derives from
:class:`ModelConfig`. A checkpoint stores ``cfg.to_dict()`` as JSON and rebuilds the model with
``Config(**d)``; JSON has lists where the config has tuples, so :class:`ModelConfig` turns every sequence
into a tuple when the config is made (nested ones too: ``EdgeConvConfig.blocks``) and back into lists in
:meth:`ModelConfig.to_dict`. A subclass puts its own consistency checks in :meth:`ModelConfig.check`.
"""

from __future__ import annotations

from dataclasses import asdict, fields


def _as_tuple(value):
    """Lists and tuples (nested) → tuples; NumPy/torch scalars → Python numbers."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuple(v) for v in value)
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


def _as_list(value):
    return [_as_list(v) for v in value] if isinstance(value, (list, tuple)) else value


class ModelConfig:
    """Base of the models' config dataclasses: sequences stored as tuples, ``to_dict`` gives JSON types."""

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (list, tuple)):
                setattr(self, f.name, _as_tuple(value))
        self.check()

    def check(self) -> None:
        """Raise ``ValueError`` on an inconsistent configuration (nothing to check here)."""

    def to_dict(self) -> dict:
        """The fields as plain JSON types (tuples → lists), so that ``type(cfg)(**cfg.to_dict()) == cfg``."""
        return {k: _as_list(v) for k, v in asdict(self).items()}
