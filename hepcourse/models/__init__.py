"""Network architectures of the course: one readable file per family.

* :mod:`~hepcourse.models.mlp` — the fully connected network (:class:`MLP`, :class:`MLPConfig`) and
  the weight initialisations;
* :mod:`~hepcourse.models.bayesian` — Bayesian layers and networks by variational inference
  (:class:`BayesLinear`, :class:`BayesianMLP`), the ELBO and the split of the predictive variance;
* :mod:`~hepcourse.models.ensemble` — deep and repulsive ensembles (:class:`Ensemble`, :func:`repulsion`);
* :mod:`~hepcourse.models.cnn` — the jet-image CNN (:class:`CNN`, :class:`CNNConfig`), convolutions with
  circular padding in φ (:class:`PhiConv2d`) and saliency maps.
* :mod:`~hepcourse.models.deepsets`, :mod:`~hepcourse.models.gnn`, :mod:`~hepcourse.models.transformer`,
  :mod:`~hepcourse.models.lorentz` — chapter 04's taggers on jet constituents (PFN and EFN, EdgeConv,
  particle transformer, Lorentz-invariant network), each called as ``model(x, p4, mask)``.
* :mod:`~hepcourse.models.features` — chapter 05's MLP on high-level jet features with built-in
  standardisation (:class:`FeatureMLP`).

Every model is a plain ``torch.nn.Module`` that runs on ``hepcourse.config.device()`` (CPU, CUDA
or MPS); none of them moves itself to a device.
"""

from .bayesian import BayesianMLP, BayesLinear, elbo, predictive_moments
from .ensemble import BatchedLinear, Ensemble, median_bandwidth, repulsion
from .cnn import CNN, CNNConfig, PhiConv2d, saliency
from .mlp import MLP, MLPConfig, init_weight_
# chapter 04: sets, graphs and transformers
from .deepsets import DeepSetsConfig, EnergyFlowNetwork, ParticleFlowNetwork
from .gnn import EdgeConvConfig, EdgeConvNet
from .lorentz import LorentzConfig, LorentzInvariantNet
from .transformer import ParticleTransformer, TransformerConfig
# chapter 05: a tagger on high-level jet features
from .features import FeatureMLP, FeatureMLPConfig

__all__ = ["MLP", "MLPConfig", "init_weight_", "BayesLinear", "BayesianMLP", "elbo", "predictive_moments",
           "BatchedLinear", "Ensemble", "repulsion", "median_bandwidth", "CNN", "CNNConfig", "PhiConv2d", "saliency",
           "build", "DeepSetsConfig", "ParticleFlowNetwork", "EnergyFlowNetwork", "EdgeConvConfig", "EdgeConvNet",
           "TransformerConfig", "ParticleTransformer", "LorentzConfig", "LorentzInvariantNet",
           "FeatureMLP", "FeatureMLPConfig"]

_CLASSES = {c.__name__: c for c in (MLP, BayesianMLP, Ensemble, CNN,                            # chapters 02, 03
                                    ParticleFlowNetwork, EnergyFlowNetwork, EdgeConvNet,         # chapter 04
                                    ParticleTransformer, LorentzInvariantNet,
                                    FeatureMLP)}                                                 # chapter 05


def build(spec: dict):
    """A model from a spec ``{"class": "MLP" | "BayesianMLP" | "Ensemble" | "CNN", "config": {...}, **kwargs}``
    (the config of an ``MLPConfig``, or of a ``CNNConfig`` for a CNN).

    Each class names its config dataclass in ``config_class`` (:class:`MLPConfig` if it does not).

    Used to rebuild the lecture models listed in ``data/MANIFEST`` before loading their weights.
    """
    spec = dict(spec)
    cls = _CLASSES[spec.pop("class")]
    cfg = getattr(cls, "config_class", MLPConfig)(**spec.pop("config"))
    return cls(cfg, **spec)
