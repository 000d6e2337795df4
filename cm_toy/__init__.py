"""cm_toy: consistency models taught on toy distributions with exact ground truth."""
from . import plots, widgets
from .consistency import (RECIPES, consistency_model, exact_consistency, sample_consistency, sample_exact_consistency,
                          sampling_sigmas, train_cd, train_ct)
from .data import GaussianMixture, get_dataset, list_datasets, register_dataset
from .edm import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, sample_edm, train_edm
from .losses import (batch_denoiser, binned_reference, cd_loss, ct_loss, ect_loss, edm_loss, ict_loss, pseudo_huber,
                     squared_l2)
from .metrics import evaluate, evaluate_seeds, noise_floor
from .networks import MLP, Precond, load_model, save_model, scalings
from .samplers import consistency_sampler, euler_sampler, euler_step, heun_sampler, heun_step
from .schedules import (consistency_sigmas, cosine_decay, ect_r, ict_num_scales, karras_sigmas, lognormal_interval_probs,
                        sample_lognormal_sigmas, song2023_num_scales, song2023_target_decay)
from .train import TrainResult, ema_update, train
from .continuous import (CONTINUOUS_RECIPES, TrigFlow, continuous_ct_loss, ct_tangent, scm_loss, scm_tangent,
                         train_continuous_ct, trigflow_from_edm)
from .guidance import (Guided, class_metrics, class_prior_sample, exact_guided_denoiser, sample_consistency_conditional,
                       sample_labels, train_cd_conditional)
from .interop import diffusers_scheduler, diffusers_unet

__all__ = [
    "GaussianMixture", "get_dataset", "list_datasets", "register_dataset",
    "MLP", "Precond", "scalings", "save_model", "load_model",
    "karras_sigmas", "sample_lognormal_sigmas", "cosine_decay", "consistency_sigmas", "song2023_num_scales", "song2023_target_decay",
    "ict_num_scales", "lognormal_interval_probs", "ect_r",
    "edm_loss", "cd_loss", "ct_loss", "ict_loss", "ect_loss", "squared_l2", "pseudo_huber", "batch_denoiser",
    "binned_reference",
    "train", "ema_update", "TrainResult",
    "euler_step", "heun_step", "euler_sampler", "heun_sampler", "consistency_sampler",
    "train_edm", "sample_edm", "SIGMA_DATA", "SIGMA_MIN", "SIGMA_MAX",
    "exact_consistency", "sample_consistency", "sample_exact_consistency", "sampling_sigmas", "consistency_model",
    "train_cd", "train_ct",
    "RECIPES",
    "evaluate", "evaluate_seeds", "noise_floor", "plots", "widgets",
    "TrigFlow", "trigflow_from_edm", "continuous_ct_loss", "ct_tangent", "scm_loss", "scm_tangent",
    "train_continuous_ct", "CONTINUOUS_RECIPES",
    "Guided", "exact_guided_denoiser", "sample_labels", "class_prior_sample", "train_cd_conditional",
    "sample_consistency_conditional", "class_metrics",
    "diffusers_unet", "diffusers_scheduler",
]
