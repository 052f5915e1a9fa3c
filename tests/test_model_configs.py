"""Every model's config survives the checkpoint's JSON round trip (hepcourse.models.config.ModelConfig)."""

import dataclasses
import json

import numpy as np
import pytest

from hepcourse import decorrelation, models
from hepcourse.models.config import ModelConfig

CONFIGS = sorted({obj for mod in (models, decorrelation, models.sbi) for obj in vars(mod).values()
                  if isinstance(obj, type) and dataclasses.is_dataclass(obj) and issubclass(obj, ModelConfig)},
                 key=lambda c: c.__name__)


def test_every_model_config_derives_from_the_base():
    names = {c.__name__ for c in CONFIGS}
    assert {"MLPConfig", "FlowConfig", "EdgeConvConfig", "TransformerConfig", "DDPMConfig", "CFMConfig",
            "RatioConfig", "MixtureConfig", "AdversaryConfig", "CNNConfig", "GANConfig"} <= names, names


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_json_round_trip_gives_the_same_config(cls):
    cfg = cls()
    d = cfg.to_dict()
    again = cls(**json.loads(json.dumps(d)))           # what a checkpoint does: lists come back, not tuples
    assert again == cfg and again.to_dict() == d
    assert not any(isinstance(v, tuple) for v in d.values())


def test_sequences_become_tuples_and_numpy_scalars_python_numbers():
    cfg = models.EdgeConvConfig(blocks=[[8, 8], [16]], head=[np.int64(32)])
    assert cfg.blocks == ((8, 8), (16,)) and cfg.head == (32,) and type(cfg.head[0]) is int
    assert cfg.to_dict()["blocks"] == [[8, 8], [16]]
    feat = models.FeatureMLPConfig.from_data(np.array([[1.0, 2.0], [3.0, 6.0]]), ("a", "b"))
    assert json.loads(json.dumps(feat.to_dict()))["shift"] == [2.0, 4.0]


def test_checks_still_run():
    with pytest.raises(ValueError, match="activation"):
        models.MLPConfig(activation="nope")
    with pytest.raises(ValueError, match="box"):
        models.FlowConfig(box=(1.0, 0.0))
    with pytest.raises(ValueError, match="at least one member"):
        models.EnsembleConfig(k=0)
