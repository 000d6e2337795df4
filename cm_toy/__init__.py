"""cm_toy: consistency models taught on toy distributions with exact ground truth.

Layers, each importing only from those above it: data, schedules, networks, samplers, losses, train (the core); exact
(f*), guidance, edm, consistency (the model and its sampler), distillation, trigflow, ct, continuous, drift; metrics,
plots, widgets, interop. Module-level names not listed here stay public in their modules (cm_toy.schedules.ect_r, ...).
"""

from . import plots, widgets
from .consistency import consistency_model, sample_consistency
from .continuous import continuous_ct_loss, ct_tangent, train_continuous_ct
from .ct import train_ct
from .data import GaussianMixture, get_dataset, list_datasets, register_dataset
from .distillation import train_cd, train_cd_conditional
from .edm import sample_edm, train_edm
from .exact import ExactConsistency, exact_consistency
from .guidance import Guided, class_metrics, exact_guided_denoiser, sample_labels
from .interop import diffusers_scheduler, diffusers_unet
from .losses import batch_denoiser, cd_loss, ct_loss, ect_loss, edm_loss, ict_loss, pseudo_huber
from .metrics import evaluate, evaluate_seeds, noise_floor
from .networks import MLP, Precond, load_model, save_model
from .samplers import consistency_sampler, euler_sampler, heun_sampler
from .schedules import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, consistency_sigmas, karras_sigmas, sampling_sigmas
from .train import TrainResult, train
from .trigflow import TrigFlow, scm_loss

# data
__all__ = ["GaussianMixture", "get_dataset", "list_datasets", "register_dataset"]
# the core: networks, noise levels, samplers, losses, the training loop
__all__ += ["MLP", "Precond", "save_model", "load_model"]
__all__ += ["SIGMA_DATA", "SIGMA_MIN", "SIGMA_MAX", "karras_sigmas", "sampling_sigmas", "consistency_sigmas"]
__all__ += ["euler_sampler", "heun_sampler", "consistency_sampler"]
__all__ += ["edm_loss", "cd_loss", "ct_loss", "ict_loss", "ect_loss", "pseudo_huber", "batch_denoiser"]
__all__ += ["train", "TrainResult"]
# exact truth, guidance, the methods
__all__ += [
    "exact_consistency",
    "ExactConsistency",
    "Guided",
    "exact_guided_denoiser",
    "sample_labels",
    "class_metrics",
]
__all__ += ["train_edm", "sample_edm", "consistency_model", "sample_consistency"]
__all__ += ["train_cd", "train_cd_conditional", "train_ct"]
__all__ += ["train_continuous_ct", "continuous_ct_loss", "ct_tangent", "TrigFlow", "scm_loss"]
# measuring, showing, other libraries
__all__ += ["evaluate", "evaluate_seeds", "noise_floor", "plots", "widgets", "diffusers_unet", "diffusers_scheduler"]
