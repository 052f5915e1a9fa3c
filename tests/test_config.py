"""hepcourse.config: modes from the environment, device selection, seeding."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from hepcourse import config


def _flag_in_subprocess(env):
    code = "from hepcourse import config; print(config.QUICK, config.RETRAIN, config.quick('q', 'f'))"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_modes_come_from_the_environment():
    assert _flag_in_subprocess({"HEPCOURSE_QUICK": "1", "HEPCOURSE_RETRAIN": "0"}) == ["True", "False", "q"]
    assert _flag_in_subprocess({"HEPCOURSE_QUICK": "", "HEPCOURSE_RETRAIN": "yes"}) == ["False", "True", "f"]


def test_device_honours_the_environment(monkeypatch):
    monkeypatch.setenv("HEPCOURSE_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")
    monkeypatch.delenv("HEPCOURSE_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert config.device().type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_asking_for_missing_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HEPCOURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA"):
        config.device()


def test_seed_everything_makes_numpy_and_torch_repeat():
    rng = config.seed_everything(3)
    a = (rng.normal(), np.random.rand(), torch.rand(1).item())
    rng = config.seed_everything(3)
    b = (rng.normal(), np.random.rand(), torch.rand(1).item())
    rng = config.seed_everything(4)
    c = (rng.normal(), np.random.rand(), torch.rand(1).item())
    assert a == b and a != c


def test_paths_point_into_the_repository():
    assert (config.ROOT / "hepcourse" / "config.py").exists()
    assert config.DATA_DIR.parent == config.ROOT and config.BUILD_DIR.name == "_build"


def test_n_jobs_follows_the_environment(monkeypatch):
    for name in ("HEPCOURSE_NJOBS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert 1 <= config.n_jobs() <= min(2, os.cpu_count() or 1)
    monkeypatch.setattr(config, "_available_cpus", lambda: 8)
    assert config.n_jobs() == 2                             # capped at 2
    monkeypatch.setattr(config, "_available_cpus", lambda: 1)
    assert config.n_jobs() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert config.n_jobs() == 1                             # still the cores available
    monkeypatch.setattr(config, "_available_cpus", lambda: 8)
    assert config.n_jobs() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")              # a pytest-xdist worker
    assert config.n_jobs() == 1
    monkeypatch.setenv("HEPCOURSE_NJOBS", "6")              # wins over everything
    assert config.n_jobs() == 6
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("HEPCOURSE_NJOBS", bad)
        with pytest.raises(ValueError, match="HEPCOURSE_NJOBS"):
            config.n_jobs()
