"""The registry of the course's data sets: what each one is, how it is generated, where its file lives.

Each data set is a :class:`DatasetSpec`: its processes (one tree of the ROOT file each, with their Pythia
settings), the jet or event selection, the file name and the size of the committed file. :data:`DATASETS`
lists them by name; :func:`dataset` looks one up. Generation (:mod:`hepcourse.data.generate`) and loading
(:mod:`hepcourse.data.datasets`) read their settings from here; book/data.md describes each data set.

* ``jets-top-qcd``: boosted hadronic top jets against QCD jets at 14 TeV (anti-kT R = 0.8, 550–650 GeV);
* ``dijet-resonance``: an LHC Olympics-like W' → XY → 4q resonance with QCD dijets at 13 TeV (two R = 1.0
  jets per event, ``kind="dijets"``);
* ``ee-z-hadrons``: e+e- → Z → hadrons at 91.19 GeV with a settable final-state alpha_s (whole events and
  event shapes, ``kind="events"``);
* ``jets-top-qcd-a14``: the jets of ``jets-top-qcd`` with the ATLAS A14 tune (chapter 05's domain shift);
* ``dijet-signal-masses``: the signal of ``dijet-resonance`` at m_X = 300, 400, 600, 700 GeV, jet-level only
  (chapter 05's mass-parameterized network);
* ``dijet-features``: more QCD dijets of ``dijet-resonance``, jet-level only (chapter 06's weakly supervised
  bump hunt; its signal is the one of ``dijet-resonance``);
* ``ee-z-alphas``: the events of ``ee-z-hadrons`` with alpha_s drawn from a uniform prior, one value per chunk,
  event shapes only (chapter 09's simulation bank for the alpha_s measurement).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field

__all__ = ["DATASETS", "DatasetSpec", "Process", "MAX_PARTICLES", "TOP_QCD", "EE_Z", "DIJET", "TOP_QCD_A14",
           "DIJET_MASSES", "DIJET_FEATURES", "EE_Z_ALPHAS", "dataset", "with_params", "chunk_params", "for_chunk"]

MAX_PARTICLES = 128
"""Constituents stored per jet (the leading ones in pT). Jets with more keep their true count in
``jet_nparticles`` and their τ_N are computed from all constituents before the cut."""

COMMON_SETTINGS = (
    "Beams:eCM = 14000.",
    "PartonLevel:MPI = on",                # the default, stated: multiparton interactions
    "ParticleDecays:limitTau0 = on",       # particles with c·tau > 10 mm are stable
    "ParticleDecays:tau0Max = 10.",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Random:setSeed = on",
)


@dataclass(frozen=True)
class Process:
    """One physics process of a data set: a tree of the ROOT file."""

    name: str                     # tree name: "top", "qcd"
    label: int                    # 1 signal, 0 background
    settings: tuple[str, ...]     # Pythia settings on top of COMMON_SETTINGS
    truth: str = ""               # "top": match the leading jet to a hadronic top


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    processes: tuple[Process, ...]
    filename: str
    default_events: int           # accepted jets per process of the committed file
    default_seed: int = 1
    chunk_size: int = 1000        # accepted jets per chunk (fixed: it defines the chunk seeds)
    batch_size: int = 25          # events per Pythia nextBatch call (does not change the result)
    jet_r: float = 0.8
    pt_min: float = 550.0
    pt_max: float = 650.0
    eta_max: float = 2.0
    match_r: float = 0.8
    max_particles: int = MAX_PARTICLES
    common: tuple[str, ...] = COMMON_SETTINGS
    extra: dict = field(default_factory=dict)
    kind: str = "jets"            # "jets": one selected jet per event; "events": whole events; "dijets": two jets
    unit: str = "jet"             # what --events counts, for messages and the MANIFEST
    prior: dict = field(default_factory=dict)   # {parameter: (low, high)}: drawn uniformly once per chunk
    def settings(self) -> dict:
        """Everything that determines the generated jets (for the fingerprint and the MANIFEST).
        Listed explicitly, so that adding a field to this class does not invalidate the chunks of
        a run in progress."""
        out = {"processes": [asdict(p) for p in self.processes], "common": list(self.common),
               "chunk_size": self.chunk_size, "jet_r": self.jet_r, "pt_min": self.pt_min, "pt_max": self.pt_max,
               "eta_max": self.eta_max, "match_r": self.match_r, "max_particles": self.max_particles}
        if self.extra:
            out["extra"] = dict(self.extra)
        if self.prior:
            out["prior"] = {k: [float(lo), float(hi)] for k, (lo, hi) in self.prior.items()}
        if self.kind == "events":
            out["kind"] = self.kind
            for key in ("pt_min", "pt_max", "eta_max", "match_r", "jet_r"):
                out.pop(key)
        elif self.kind != "jets":
            out["kind"] = self.kind
            out.pop("match_r")
        return out


TOP_QCD = DatasetSpec(
    name="jets-top-qcd",
    description="boosted hadronic top jets vs QCD jets, pp at 14 TeV, anti-kT R=0.8, 550 < pT < 650 GeV, |eta| < 2",
    processes=(
        Process("top", 1, ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on",
                           "24:onMode = off", "24:onIfAny = 1 2 3 4 5",
                           "PhaseSpace:pTHatMin = 400.", "PhaseSpace:pTHatMax = 750."), truth="top"),
        Process("qcd", 0, ("HardQCD:all = on",
                           "PhaseSpace:pTHatMin = 400.", "PhaseSpace:pTHatMax = 750.")),
    ),
    filename="jets-top-qcd.root",
    default_events=25_000,
)

EE_SETTINGS = (
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10.",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Random:setSeed = on",
)

EE_Z = DatasetSpec(
    name="ee-z-hadrons",
    description="e+e- -> Z -> hadrons at sqrt(s) = 91.1876 GeV: all visible particles and event shapes",
    processes=(
        Process("events", 0, ("Beams:idA = 11", "Beams:idB = -11", "Beams:eCM = 91.1876",
                              "PDF:lepton = off",                 # no initial-state photon radiation
                              "WeakSingleBoson:ffbar2gmZ = on",
                              "23:onMode = off", "23:onIfAny = 1 2 3 4 5",
                              "TimeShower:alphaSvalue = {alphas}")),
    ),
    filename="ee-z-hadrons.root",
    default_events=10_000,
    chunk_size=5_000,
    batch_size=250,
    common=EE_SETTINGS,
    extra={"alphas": 0.1365},     # Pythia's default (Monash 2013) value of alpha_s(m_Z) in the final-state shower
    kind="events",
    unit="event",
)

LHCO_COMMON = (
    "Beams:eCM = 13000.",
    "PartonLevel:MPI = on",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10.",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Random:setSeed = on",
)

DIJET = DatasetSpec(
    name="dijet-resonance",
    description="LHC Olympics-like: W' (3.5 TeV) -> X (500 GeV) Y (100 GeV) -> 4 quarks vs QCD dijets, pp at 13 TeV, "
                "anti-kT R=1.0, leading jet pT > 1.2 TeV",
    processes=(
        # X and Y are Pythia's W and Z with their masses changed (W' -> W Z is a built-in channel)
        Process("signal", 1, ("NewGaugeBoson:ffbar2Wprime = on", "34:m0 = 3500.", "34:onMode = off",
                              "34:onIfMatch = 24 23", "Wprime:coup2WZ = 1.",
                              "24:m0 = 500.", "24:onMode = off", "24:onIfAny = 1 2 3 4 5",
                              "23:m0 = 100.", "23:onMode = off", "23:onIfAny = 1 2 3 4 5")),
        Process("qcd", 0, ("HardQCD:all = on", "PhaseSpace:pTHatMin = 1000.")),
    ),
    filename="dijet-resonance.root",
    default_events=10_000,
    chunk_size=2_000,
    batch_size=25,
    jet_r=1.0,
    pt_min=1200.0,
    pt_max=1e9,
    eta_max=2.5,
    max_particles=30,             # per jet: the anomaly-detection chapter works mostly on jet-level features
    common=LHCO_COMMON,
    kind="dijets",
    unit="event",
)

# Chapter 05: a second generator setting for the same jets (domain shift), and the dijet signal at
# other X masses (the mass-parameterized network). Both reuse the generators unchanged.
TOP_QCD_A14 = DatasetSpec(
    name="jets-top-qcd-a14",
    description="as jets-top-qcd, but Pythia 8 with the ATLAS A14 tune (Tune:pp = 21) instead of Monash 2013: "
                "another parton-shower and multiparton-interaction setting for the same process",
    processes=TOP_QCD.processes,
    filename="jets-top-qcd-a14.root",
    default_events=2_000,
    common=COMMON_SETTINGS + ("Tune:pp = 21",),       # ATLAS A14 central tune, NNPDF2.3 LO
)

DIJET_MASSES = dataclasses.replace(
    DIJET,                        # the same generator settings, selection and chunking as dijet-resonance
    name="dijet-signal-masses",
    description="the dijet-resonance signal W' (3.5 TeV) -> X Y (Y = 100 GeV) -> 4 quarks at X masses of 300, 400, "
                "600 and 700 GeV, one tree per mass; jet-level quantities only",
    processes=tuple(Process(f"mx{mx}", 1, tuple(f"24:m0 = {mx}." if line.startswith("24:m0") else line
                                                for line in DIJET.processes[0].settings))
                    for mx in (300, 400, 600, 700)),
    filename="dijet-signal-masses.root",
    default_events=2_000,
    max_particles=0,              # no constituents: the parameterized network reads jet masses and tau_21
)

# Chapter 06: a weakly supervised search needs many more background events than dijet-resonance holds;
# jet-level quantities only (no constituents) keep the file at a few tens of bytes per event.
DIJET_FEATURES = dataclasses.replace(
    DIJET,                        # the same generator settings, selection and chunking as dijet-resonance
    name="dijet-features",
    description="the QCD dijets of dijet-resonance (pp at 13 TeV, anti-kT R=1.0, leading jet pT > 1.2 TeV), "
                "independent events, jet-level quantities only (m_jj, jet masses, tau_N)",
    processes=(DIJET.processes[1],),
    filename="dijet-features.root",
    default_events=144_000,
    max_particles=0,              # no constituents
)

# Chapter 09: a simulation bank for inferring alpha_s. The process and settings of ee-z-hadrons, but the final-state
# shower's alpha_s(m_Z) is drawn from a uniform prior, once per chunk of 500 events (a chunk is one Pythia instance,
# and its seed, derived from the base seed and the chunk index, also draws the value: chunk_params); event shapes
# only (no particles), so the file stays at a few tens of bytes per event.
EE_Z_ALPHAS = dataclasses.replace(
    EE_Z,
    name="ee-z-alphas",
    description="e+e- -> Z -> hadrons at sqrt(s) = 91.1876 GeV as ee-z-hadrons, with TimeShower:alphaSvalue drawn "
                "uniformly in [0.11, 0.15] once per chunk of 500 events; event shapes and multiplicities only",
    filename="ee-z-alphas.root",
    default_events=70_000,
    chunk_size=500,
    max_particles=0,              # no particles: event-level quantities only
    extra={},
    prior={"alphas": (0.11, 0.15)},
)

DATASETS: dict[str, DatasetSpec] = {TOP_QCD.name: TOP_QCD, EE_Z.name: EE_Z, DIJET.name: DIJET,
                                    TOP_QCD_A14.name: TOP_QCD_A14, DIJET_MASSES.name: DIJET_MASSES,
                                    DIJET_FEATURES.name: DIJET_FEATURES, EE_Z_ALPHAS.name: EE_Z_ALPHAS}


def chunk_params(spec: DatasetSpec, seed: int) -> dict:
    """The parameters of :attr:`DatasetSpec.prior` for the chunk generated with Pythia seed ``seed``: each drawn
    uniformly in its range (rounded to 6 decimals) by a NumPy generator seeded with the chunk's seed, so that
    the value, like the events, depends only on the base seed and the chunk index. Empty without a prior."""
    import numpy as np

    rng = np.random.default_rng([int(seed), 9])
    return {k: round(float(lo + (hi - lo) * rng.random()), 6) for k, (lo, hi) in spec.prior.items()}


def for_chunk(spec: DatasetSpec, seed: int) -> DatasetSpec:
    """``spec`` with the parameters of its prior set to the values of the chunk of seed ``seed`` (itself without a prior)."""
    if not spec.prior:
        return spec
    return dataclasses.replace(spec, extra={**spec.extra, **chunk_params(spec, seed)})


def with_params(spec: DatasetSpec, params: dict | None) -> DatasetSpec:
    """``spec`` with some of its ``extra`` parameters changed (``--alphas`` of ee-z-hadrons).
    A non-default value goes into the file name, e.g. ``ee-z-hadrons-alphas0.1200.root``."""
    params = {k: v for k, v in (params or {}).items() if v is not None}
    if not params:
        return spec
    unknown = set(params) - set(spec.extra)
    if unknown:
        raise ValueError(f"{spec.name} has no parameter {', '.join(sorted(unknown))}; it has: {', '.join(spec.extra) or 'none'}")
    extra = {**spec.extra, **{k: float(v) for k, v in params.items()}}
    if extra == spec.extra:
        return spec
    stem, suffix = spec.filename.rsplit(".", 1)
    tag = "-".join(f"{k}{extra[k]:.4f}" for k in sorted(params))
    return dataclasses.replace(spec, extra=extra, filename=f"{stem}-{tag}.{suffix}")


def dataset(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``; a ``KeyError`` naming the known data sets otherwise."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]
