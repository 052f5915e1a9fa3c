"""Network architectures of the course: one readable file per family.

* :mod:`~hepcourse.models.mlp` — the fully connected network (:class:`MLP`, :class:`MLPConfig`) and
  the weight initialisations;
* :mod:`~hepcourse.models.bayesian` — Bayesian layers and networks by variational inference
  (:class:`BayesLinear`, :class:`BayesianMLP`), the ELBO and the split of the predictive variance;
* :mod:`~hepcourse.models.ensemble` — deep and repulsive ensembles (:class:`Ensemble`, :func:`repulsion`);
* :mod:`~hepcourse.models.cnn` — the jet-image CNN (:class:`CNN`, :class:`CNNConfig`), convolutions with
  circular padding in φ (:class:`PhiConv2d`) and saliency maps;
* :mod:`~hepcourse.models.deepsets`, :mod:`~hepcourse.models.gnn`, :mod:`~hepcourse.models.transformer`,
  :mod:`~hepcourse.models.lorentz` — chapter 04's taggers on jet constituents (PFN and EFN, EdgeConv,
  particle transformer, Lorentz-invariant network), each called as ``model(x, p4, mask)``.

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

__all__ = ["MLP", "MLPConfig", "init_weight_", "BayesLinear", "BayesianMLP", "elbo", "predictive_moments",
           "BatchedLinear", "Ensemble", "repulsion", "median_bandwidth", "CNN", "CNNConfig", "PhiConv2d", "saliency",
           "build", "DeepSetsConfig", "ParticleFlowNetwork", "EnergyFlowNetwork", "EdgeConvConfig", "EdgeConvNet",
           "TransformerConfig", "ParticleTransformer", "LorentzConfig", "LorentzInvariantNet"]

_CLASSES = {"MLP": MLP, "BayesianMLP": BayesianMLP, "Ensemble": Ensemble, "CNN": CNN}
_CONFIGS = {"CNN": CNNConfig}                 # the config class of each model; MLPConfig if not listed
for _cls in (ParticleFlowNetwork, EnergyFlowNetwork, EdgeConvNet, ParticleTransformer, LorentzInvariantNet):   # chapter 04
    _CLASSES[_cls.__name__], _CONFIGS[_cls.__name__] = _cls, _cls.config_class


def build(spec: dict):
    """A model from a spec ``{"class": "MLP" | "BayesianMLP" | "Ensemble" | "CNN", "config": {...}, **kwargs}``
    (the config of an ``MLPConfig``, or of a ``CNNConfig`` for a CNN).

    The chapter 04 taggers take their own config (``config_class``: ``DeepSetsConfig``, ...).

    Used to rebuild the lecture models listed in ``data/MANIFEST`` before loading their weights.
    """
    spec = dict(spec)
    name = spec.pop("class")
    cfg = _CONFIGS.get(name, MLPConfig)(**spec.pop("config"))
    cls = _CLASSES[name]
    return cls(cfg, **spec)
