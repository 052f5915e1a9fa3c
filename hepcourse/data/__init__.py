"""The course's data: generation (Pythia 8 + FastJet), a toy detector, ROOT files, loaders.

* :mod:`.generate`  ``hepcourse data make``: event generation, chunked and deterministic per seed
* :mod:`.detector`  the toy detector, applied when reading (per-event seeds)
* :mod:`.io`        ROOT files with uproot + awkward
* :mod:`.manifest`  ``data/MANIFEST``: checksums, versions, settings, rebuild commands
* :mod:`.datasets`  :func:`load`: one line to get a split as awkward arrays or padded tensors
* :mod:`.public`    readers for public formats (top-tagging landscape, LHC Olympics, CaloChallenge)

Library code prints nothing; progress bars (tqdm) are the only output.
"""

from .datasets import load, pad, unpad  # noqa: F401
