"""Shared by the data tests: regenerate the head of a committed data set and compare it field by field."""

import awkward as ak
import numpy as np

from hepcourse import config
from hepcourse.data import generate, io, manifest, registry


def assert_regenerates(name: str, n: int, tmp_path, fields, trees=("events",)) -> dict:
    """Generate the first ``n`` events of data set ``name`` with its committed seed (no MANIFEST change) and
    assert that each field of each tree equals the committed file's; return {tree: (mine, theirs)}."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = config.DATA_DIR / registry.dataset(name).filename
    info = manifest.verify(path)
    out = tmp_path / f"{name}.root"
    generate.make(name, events=n, seed=info["seed"], out=out, chunk_dir=tmp_path, progress=False,
                  update_manifest=False)
    read = {}
    for tree in trees:
        mine, theirs = io.read(out, tree), io.read(path, tree, entry_stop=n)
        for field in fields:
            assert np.array_equal(ak.to_numpy(mine[field]), ak.to_numpy(theirs[field])), (name, tree, field)
        read[tree] = (mine, theirs)
    return read
