"""Loaders, splits, padding, the MANIFEST and the ROOT layout, on a small synthetic data set."""

import awkward as ak
import numpy as np
import pytest

from hepcourse import config
from hepcourse.data import datasets, io, manifest, pad, unpad
from hepcourse.data.registry import TOP_QCD


def _fake_trees(n=40, seed=0):
    """A file in the layout of jets-top-qcd with random jets (no physics: fast)."""
    rng = np.random.default_rng(seed)
    trees = {}
    for label, name in ((1, "top"), (0, "qcd")):
        counts = rng.integers(3, 50, n)
        pt = ak.unflatten(rng.exponential(10, counts.sum()) + 1, counts)
        pt = ak.sort(pt, axis=1, ascending=False)
        eta = ak.unflatten(rng.normal(0, 0.3, counts.sum()), counts)
        phi = ak.unflatten(rng.normal(0, 0.3, counts.sum()), counts)
        e = pt * np.cosh(eta) * 1.001
        from hepcourse.physics.jets import jet_four_vector, tau_n
        jpt, jeta, jphi, jm = jet_four_vector(pt, eta, phi, e)
        taus = tau_n(pt, eta, phi, e, 3)
        cols = {"jet_pt": jpt.astype(np.float32), "jet_eta": jeta.astype(np.float32), "jet_phi": jphi.astype(np.float32),
                "jet_m": jm.astype(np.float32), "jet_nparticles": counts.astype(np.int32),
                "jet_tau1": taus[:, 0].astype(np.float32), "jet_tau2": taus[:, 1].astype(np.float32),
                "jet_tau3": taus[:, 2].astype(np.float32), "label": np.full(n, label, np.int8),
                "event_index": np.arange(n, dtype=np.int64),
                "part": {"pt": ak.values_astype(pt, np.float32), "eta": ak.values_astype(eta, np.float32),
                         "phi": ak.values_astype(phi, np.float32), "e": ak.values_astype(e, np.float32),
                         "charge": ak.values_astype(ak.unflatten(rng.integers(-1, 2, counts.sum()), counts), np.int8),
                         "pid": ak.values_astype(ak.unflatten(rng.choice([211, -211, 22, 130], counts.sum()), counts), np.int32)},
                "_pieces": [n // 2, n - n // 2]}
        trees[name] = cols
    return trees


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / TOP_QCD.filename
    io.write_dataset(path, _fake_trees(), {"dataset": TOP_QCD.name})
    return path


@pytest.fixture()
def data_dir(tmp_path, monkeypatch, synthetic_file):
    """A data/ folder with a synthetic jets-top-qcd.root and its MANIFEST entry."""
    import shutil

    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    path = tmp_path / TOP_QCD.filename
    shutil.copy(synthetic_file, path)
    manifest.record(path, {"command": "hepcourse data make jets-top-qcd --events 40"})
    return tmp_path


def test_pad_unpad_round_trip():
    jagged = ak.Array([[3.0, 2.0, 1.0], [], [5.0], [9.0, 8.0, 7.0, 6.0, 5.0]])
    arr, mask = pad(jagged, 4)
    assert arr.shape == (4, 4) and mask.sum() == 3 + 0 + 1 + 4
    np.testing.assert_array_equal(arr[0], [3, 2, 1, 0])
    back = unpad(arr, mask)
    assert ak.to_list(back) == [[3, 2, 1], [], [5], [9, 8, 7, 6]]   # the fifth is cut by max_len
    records = ak.zip({"pt": jagged, "eta": -jagged})
    arr3, mask3 = pad(records, 6)
    assert arr3.shape == (4, 6, 2)
    assert ak.to_list(unpad(arr3, mask3, ("pt", "eta"))) == ak.to_list(ak.values_astype(records, np.float32))


def test_splits_are_disjoint_and_cover_everything():
    entries = np.arange(1000)
    masks = {s: datasets.split_mask(entries, s) for s in ("train", "val", "test")}
    total = sum(m.astype(int) for m in masks.values())
    assert np.all(total == 1)
    assert masks["train"].sum() == 600 and masks["val"].sum() == 200 and masks["test"].sum() == 200
    with pytest.raises(ValueError, match="split"):
        datasets.split_mask(entries, "training")


def test_file_layout_and_meta(data_dir):
    path = data_dir / TOP_QCD.filename
    assert io.tree_names(path) == ["qcd", "top"]
    assert io.read_meta(path)["dataset"] == "jets-top-qcd"
    arr = io.read(path, "top", entry_stop=5)
    assert len(arr) == 5 and set(arr.part.fields) == {"pt", "eta", "phi", "e", "charge", "pid"}
    import uproot
    with uproot.open(path) as f:
        assert f["top"].classname == "TTree" and f["top"]["part_pt"].num_baskets == 2   # one basket per chunk


def test_load_formats_agree_and_splits_disjoint(data_dir):
    train = datasets.load("jets-top-qcd", split="train", n=None)
    assert len(train) == 2 * 24   # 40 jets per class, i mod 5 in {0,1,2}
    assert set(np.asarray(train.entry) % 5) <= {0, 1, 2}
    test = datasets.load("jets-top-qcd", split="test", n=5)
    keys = lambda a: {(t, e) for t, e in zip(ak.to_list(a.tree), ak.to_list(a.entry))}  # noqa: E731
    assert not keys(train) & keys(test) and len(keys(test)) == 10
    np.testing.assert_array_equal(np.sort(np.asarray(test.label)), [0] * 5 + [1] * 5)
    # numpy tensors hold the same jets in the same order
    t = datasets.load("jets-top-qcd", split="train", format="numpy", max_particles=64)
    assert t.particles.shape == (48, 64, 6) and t.mask.shape == (48, 64)
    np.testing.assert_array_equal(t.labels, np.asarray(train.label))
    np.testing.assert_allclose(t.feature("m"), np.asarray(train.m), rtol=1e-6)
    np.testing.assert_array_equal(t.mask.sum(1), np.minimum(ak.num(train.part.pt), 64))
    np.testing.assert_allclose(unpad(t.particles[..., 0], t.mask)[3], train.part.pt[3][:64])
    # the mass from the padded constituents equals the stored jet mass
    from hepcourse.physics.jets import jet_four_vector
    _, _, _, m = jet_four_vector(*(t.particles[..., i] for i in range(4)), mask=t.mask)
    np.testing.assert_allclose(m, t.feature("m"), rtol=2e-3)
    # max_particles=0 reads only the jet-level branches: the same features and labels, no constituents
    jets_only = datasets.load("jets-top-qcd", split="train", format="numpy", max_particles=0)
    assert jets_only.particles.shape == (48, 0, 6) and jets_only.mask.shape == (48, 0)
    np.testing.assert_array_equal(jets_only.features, t.features)
    np.testing.assert_array_equal(jets_only.labels, t.labels)
    torch_t = datasets.load("jets-top-qcd", split="val", format="torch", particle_fields=("deta", "dphi", "log_pt"))
    import torch
    assert isinstance(torch_t.particles, torch.Tensor) and torch_t.particles.shape[-1] == 3
    assert float(torch_t.particles[torch_t.mask][:, 0].abs().max()) < 3


def test_load_with_detector_recomputes_features(data_dir):
    a = datasets.load("jets-top-qcd", split="all", detector=True)
    b = datasets.load("jets-top-qcd", split="all", detector=True)
    c = datasets.load("jets-top-qcd", split="all")
    assert ak.all(a.m == b.m)                           # reproducible
    assert not np.allclose(np.asarray(a.m), np.asarray(c.m))   # and different from particle level


def test_missing_file_names_the_rebuild_command(data_dir):
    (data_dir / TOP_QCD.filename).unlink()
    with pytest.raises(manifest.DataFileError, match="hepcourse data make jets-top-qcd"):
        datasets.load("jets-top-qcd")


def test_corrupt_file_is_refused(data_dir):
    path = data_dir / TOP_QCD.filename
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(manifest.DataFileError, match=r"corrupt.*\n.*hepcourse data make jets-top-qcd"):
        datasets.load("jets-top-qcd")
    with pytest.raises(manifest.DataFileError):
        manifest.verify(path)


def test_cli_verify(data_dir, capsys):
    from hepcourse.cli import main
    assert main(["data", "verify"]) == 0
    assert "ok" in capsys.readouterr().out
    (data_dir / TOP_QCD.filename).write_bytes(b"garbage")
    assert main(["data", "verify"]) == 1


def test_manifest_writes_are_atomic(tmp_path, monkeypatch):
    """A write that fails half-way leaves the old MANIFEST whole and no temporary file behind."""
    path = tmp_path / "MANIFEST"
    manifest.write_section("datasets", "a.root", {"sha256": "1"}, path)
    before = path.read_text()

    real_write = type(path).write_text

    def write_half_then_fail(self, text, *args, **kwargs):             # a crash in the middle of the write
        real_write(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(type(path), "write_text", write_half_then_fail)
    with pytest.raises(OSError):
        manifest.write_section("datasets", "b.root", {"sha256": "2"}, path)
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["MANIFEST"]


def test_cli_lists_and_verifies_data_sets_by_name(data_dir, capsys):
    from hepcourse.cli import main

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("jets-top-qcd", "dijet-resonance", "ee-z-hadrons"))
    assert "rebuild: hepcourse data make jets-top-qcd --events 40" in out           # the synthetic file's entry
    assert main(["data", "verify", "jets-top-qcd"]) == 0
    assert "ok       data/jets-top-qcd.root" in capsys.readouterr().out
    assert main(["data", "make", "no-such-set"]) == 2
    assert "unknown data set 'no-such-set'; known: jets-top-qcd" in capsys.readouterr().err


def test_manifest_parse_is_cached_but_never_stale(tmp_path):
    """read_manifest keeps the parsed document per file, yet returns what the file says now and a copy."""
    path = tmp_path / "MANIFEST"
    manifest.write_section("datasets", "a.root", {"sha256": "1"}, path)
    first = manifest.read_manifest(path)
    first["datasets"]["a.root"]["sha256"] = "changed by the caller"
    assert manifest.read_manifest(path)["datasets"]["a.root"] == {"sha256": "1"}
    manifest.write_section("datasets", "b.root", {"sha256": "2"}, path)
    assert set(manifest.read_manifest(path)["datasets"]) == {"a.root", "b.root"}
    path.write_text(path.read_text().replace("'1'", "'3'"))              # same size, same inode: an edit by hand
    assert manifest.read_manifest(path)["datasets"]["a.root"] == {"sha256": "3"}


def test_reading_only_the_needed_constituent_branches_gives_the_same_tensors(monkeypatch):
    """load(format="numpy") decompresses only the stored constituent fields its particle_fields are made of
    (deta from eta, log_pt from pt, ...): the tensors equal those of a read of every branch."""
    import numpy as np

    from hepcourse.data import datasets, load

    assert datasets._stored_sources(("deta", "dphi", "log_pt", "e_rel", "charge", "pt")) == ("eta", "phi", "pt", "e", "charge")
    fields = ("deta", "dphi", "dr", "log_pt", "log_e", "pt_rel", "e_rel", "charge")
    some = load("jets-top-qcd", split="val", n=200, format="numpy", particle_fields=fields)
    monkeypatch.setattr(datasets, "_stored_sources", lambda f: None)          # every branch, as the awkward path
    every = load("jets-top-qcd", split="val", n=200, format="numpy", particle_fields=fields)
    for name in ("particles", "mask", "features", "labels"):
        np.testing.assert_array_equal(getattr(some, name), getattr(every, name), err_msg=name)
    assert some.meta["entry"].tolist() == every.meta["entry"].tolist()
