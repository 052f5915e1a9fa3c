"""Network architectures of the course: one readable file per family.

* :mod:`~hepcourse.models.layers` — the blocks the families share: :func:`layer_stack` (Linear → ReLU → …),
  pooling over the real particles of a padded set (:func:`masked_sum`, :func:`masked_mean`), fixed
  standardisation (:class:`Standardise`) and the momentum-conserving projection layer (:func:`momentum_projection`);
* :mod:`~hepcourse.models.mlp` — the fully connected network (:class:`MLP`, :class:`MLPConfig`) and
  the weight initialisations;
* :mod:`~hepcourse.models.bayesian` — Bayesian layers and networks by variational inference
  (:class:`BayesLinear`, :class:`BayesianMLP`, :class:`BayesianConfig`), the ELBO and the split of the
  predictive variance;
* :mod:`~hepcourse.models.ensemble` — deep and repulsive ensembles (:class:`Ensemble`, :class:`EnsembleConfig`,
  :func:`repulsion`);
* :mod:`~hepcourse.models.cnn` — the jet-image CNN (:class:`CNN`, :class:`CNNConfig`), convolutions with
  circular padding in φ (:class:`PhiConv2d`) and saliency maps.
* :mod:`~hepcourse.models.deepsets`, :mod:`~hepcourse.models.gnn`, :mod:`~hepcourse.models.transformer`,
  :mod:`~hepcourse.models.lorentz` — chapter 04's taggers on jet constituents (PFN and EFN, EdgeConv,
  particle transformer, Lorentz-invariant network), each called as ``model(x, p4, mask)``.
* :mod:`~hepcourse.models.features` — chapter 05's MLP on high-level jet features with built-in
  standardisation (:class:`FeatureMLP`).
* :mod:`~hepcourse.models.autoencoder`, :mod:`~hepcourse.models.vae` — chapter 06's autoencoder
  (:class:`Autoencoder`, :func:`reconstruction_error`) and variational autoencoder (:class:`VAE`, :func:`kl_normal`).
* :mod:`~hepcourse.models.gan` — chapter 07's GAN and WGAN-GP (:class:`GAN`, :class:`GANConfig`,
  :func:`gradient_penalty`, :func:`train_gan`).
* :mod:`~hepcourse.models.flows` — chapter 08's normalizing flows: affine (RealNVP) and rational-quadratic
  spline couplings, conditional or not (:class:`Flow`, :class:`FlowConfig`); :mod:`~hepcourse.models.diffusion`
  (:class:`DDPM`, the closed-form forward process and the corrected posterior) and
  :mod:`~hepcourse.models.flow_matching` (:class:`CFM`, conditional flow matching, sampled through
  :mod:`hepcourse.ode`); :mod:`~hepcourse.models.autoregressive` (:class:`AutoregressiveDensity`, a causal
  transformer with Gaussian-mixture conditionals).
* :mod:`~hepcourse.models.sbi` — chapter 09's simulation-based inference: the ratio estimator of CARL and NRE
  (:class:`RatioEstimator`), the losses of NRE, SALLY and NPE, a mixture density network for posteriors
  (:class:`MixtureDensity`).

Every model is a plain ``torch.nn.Module`` that runs on ``hepcourse.config.device()`` (CPU, CUDA
or MPS); none of them moves itself to a device. Every hyperparameter sits in the model's config
dataclass (``model.cfg``, named by the class attribute ``config_class``), so that :func:`build` rebuilds
any model from ``{"class": ..., "config": model.cfg.to_dict()}``.
"""

from .bayesian import BayesianConfig, BayesianMLP, BayesLinear, elbo, predictive_moments
from .ensemble import BatchedLinear, Ensemble, EnsembleConfig, median_bandwidth, repulsion
from .cnn import CNN, CNNConfig, PhiConv2d, saliency
from .layers import Standardise, layer_stack, masked_mean, masked_sum, momentum_projection
from .mlp import MLP, MLPConfig, init_weight_
# chapter 04: sets, graphs and transformers
from .deepsets import DeepSetsConfig, EnergyFlowNetwork, ParticleFlowNetwork
from .gnn import EdgeConvConfig, EdgeConvNet
from .lorentz import LorentzConfig, LorentzInvariantNet
from .transformer import ParticleTransformer, TransformerConfig
# chapter 05: a tagger on high-level jet features
from .features import FeatureMLP, FeatureMLPConfig
# chapter 06: autoencoders for anomaly detection (chapter 07 reuses the VAE)
from .autoencoder import Autoencoder, AutoencoderConfig, reconstruction_error, reconstruction_loss
from .vae import VAE, VAEConfig, kl_normal, vae_loss, vae_scores
# chapter 07: generative adversarial networks
from .gan import GAN, GANConfig, gradient_penalty, train_gan
# chapter 08: generative models II
from .flows import Flow, FlowConfig
from .diffusion import DDPM, DDPMConfig
from .flow_matching import CFM, CFMConfig
from .autoregressive import ARConfig, AutoregressiveDensity
# chapter 09: simulation-based inference
from .sbi import MixtureConfig, MixtureDensity, RatioConfig, RatioEstimator, npe_loss, nre_loss, sally_loss

__all__ = ["MLP", "MLPConfig", "init_weight_", "BayesLinear", "BayesianMLP", "BayesianConfig", "elbo",
           "predictive_moments", "BatchedLinear", "Ensemble", "EnsembleConfig", "repulsion", "median_bandwidth",
           "CNN", "CNNConfig", "PhiConv2d", "saliency", "layer_stack", "masked_sum", "masked_mean", "Standardise",
           "momentum_projection", "build", "DeepSetsConfig", "ParticleFlowNetwork", "EnergyFlowNetwork",
           "EdgeConvConfig", "EdgeConvNet", "TransformerConfig", "ParticleTransformer", "LorentzConfig",
           "LorentzInvariantNet", "FeatureMLP", "FeatureMLPConfig", "Autoencoder", "AutoencoderConfig",
           "reconstruction_error", "reconstruction_loss", "VAE", "VAEConfig", "kl_normal", "vae_loss", "vae_scores",
           "GAN", "GANConfig", "gradient_penalty", "train_gan",
           "Flow", "FlowConfig", "DDPM", "DDPMConfig", "CFM", "CFMConfig", "ARConfig", "AutoregressiveDensity",
           "RatioConfig", "RatioEstimator", "MixtureConfig", "MixtureDensity", "nre_loss", "sally_loss", "npe_loss"]

_CLASSES = {c.__name__: c for c in (MLP, BayesianMLP, Ensemble, CNN,                            # chapters 02, 03
                                    ParticleFlowNetwork, EnergyFlowNetwork, EdgeConvNet,         # chapter 04
                                    ParticleTransformer, LorentzInvariantNet,
                                    FeatureMLP,                                                  # chapter 05
                                    Autoencoder, VAE,                                            # chapter 06
                                    GAN,                                                        # chapter 07
                                    Flow, DDPM, CFM, AutoregressiveDensity,                      # chapter 08
                                    RatioEstimator, MixtureDensity)}                             # chapter 09


def build(spec: dict):
    """A model from a spec ``{"class": "MLP" | "Ensemble" | "CNN" | ..., "config": {...}}``: the class's
    ``config_class`` (e.g. :class:`EnsembleConfig` for an ``Ensemble``) built from ``config``.

    Used to rebuild the lecture models listed in ``data/MANIFEST`` before loading their weights.
    """
    extra = set(spec) - {"class", "config"}
    if extra:
        raise ValueError(f"a model spec holds only 'class' and 'config' (hyperparameters go into the config); "
                         f"got also {sorted(extra)}")
    cls = _CLASSES[spec["class"]]
    return cls(cls.config_class(**spec["config"]))
