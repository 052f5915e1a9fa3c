"""Readers of public formats, on small files that these tests write in the published layouts."""

import h5py
import numpy as np
import pandas as pd
import pytest

from hepcourse.data import public


def _write_top_tagging(path, n=7, n_const=200, seed=0):
    """The layout of the top-tagging landscape files: a pandas HDFStore, key 'table'."""
    rng = np.random.default_rng(seed)
    cols = {}
    counts = rng.integers(5, 60, n)
    for i in range(n_const):
        on = i < counts
        e = np.where(on, rng.exponential(30, n) + 1, 0.0)
        cols[f"E_{i}"] = e
        cols[f"PX_{i}"] = np.where(on, 0.6 * e, 0.0)
        cols[f"PY_{i}"] = np.where(on, 0.6 * e, 0.0)
        cols[f"PZ_{i}"] = np.where(on, 0.5 * e, 0.0)
    labels = np.arange(n) % 2
    cols.update(truthE=np.where(labels, 700.0, 0.0), truthPX=np.where(labels, 600.0, 0.0),
                truthPY=np.zeros(n), truthPZ=np.where(labels, 100.0, 0.0), ttv=np.zeros(n, int), is_signal_new=labels)
    df = pd.DataFrame(cols).astype({c: "float32" for c in cols if c not in ("ttv", "is_signal_new")})
    df.to_hdf(path, key="table", mode="w")
    return df, counts


def test_top_tagging_reader(tmp_path):
    df, counts = _write_top_tagging(tmp_path / "val.h5")
    out = public.read_top_tagging(tmp_path / "val.h5")
    assert out["p4"].shape == (7, 200, 4)
    np.testing.assert_array_equal(out["mask"].sum(1), counts)
    np.testing.assert_array_equal(out["labels"], np.arange(7) % 2)
    np.testing.assert_allclose(out["p4"][:, 3, 0], df["E_3"].to_numpy())
    np.testing.assert_allclose(out["truth_p4"][1], [700, 600, 0, 100])
    part = public.read_top_tagging(tmp_path / "val.h5", start=2, stop=5, max_constituents=30)
    assert part["p4"].shape == (3, 30, 4)
    np.testing.assert_allclose(part["p4"], out["p4"][2:5, :30])


def test_lhco_reader(tmp_path):
    rng = np.random.default_rng(1)
    n = 6
    values = np.zeros((n, 2101))
    counts = rng.integers(10, 700, n)
    for k in range(n):
        m = counts[k]
        values[k, 0:3 * m:3] = np.sort(rng.exponential(20, m))[::-1] + 0.1
        values[k, 1:3 * m:3] = rng.normal(0, 2, m)
        values[k, 2:3 * m:3] = rng.uniform(-np.pi, np.pi, m)
    values[:, 2100] = [0, 1, 0, 0, 1, 0]
    pd.DataFrame(values).to_hdf(tmp_path / "events_anomalydetection.h5", key="df", mode="w")
    out = public.read_lhco(tmp_path / "events_anomalydetection.h5")
    assert out["particles"].shape == (6, 700, 3)
    np.testing.assert_array_equal(out["mask"].sum(1), counts)
    np.testing.assert_array_equal(out["labels"], [0, 1, 0, 0, 1, 0])
    np.testing.assert_allclose(out["particles"][2, :5, 1], values[2, 1:15:3], rtol=1e-6)
    # a black box has no label column
    pd.DataFrame(values[:, :2100]).to_hdf(tmp_path / "bb.h5", key="df", mode="w")
    assert public.read_lhco(tmp_path / "bb.h5", start=1, stop=3)["labels"] is None


def test_calochallenge_reader(tmp_path):
    rng = np.random.default_rng(2)
    showers = rng.exponential(1.0, (4, 6480)).astype(np.float32)
    energies = np.array([[1e3], [1e4], [1e5], [1e6]], dtype=np.float32)
    with h5py.File(tmp_path / "dataset_2_1.hdf5", "w") as f:
        f.create_dataset("incident_energies", data=energies, compression="gzip")
        f.create_dataset("showers", data=showers, compression="gzip")
    out = public.read_calochallenge(tmp_path / "dataset_2_1.hdf5")
    assert out["showers"].shape == (4, 45, 16, 9)
    np.testing.assert_allclose(out["energies"], energies[:, 0])
    # voxel order (layer, angular, radial), radial fastest
    assert out["showers"][1, 0, 1, 0] == showers[1, 9]
    assert out["showers"][1, 1, 0, 0] == showers[1, 144]
    flat = public.read_calochallenge(tmp_path / "dataset_2_1.hdf5", start=2, reshape=False)
    np.testing.assert_array_equal(flat["showers"], showers[2:])


def test_missing_public_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        public.read_top_tagging(tmp_path / "train.h5")
