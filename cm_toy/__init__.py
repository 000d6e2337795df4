"""cm_toy: consistency models taught on toy distributions with exact ground truth."""
from . import plots, widgets
from .consistency import exact_consistency, sample_consistency
from .data import GaussianMixture, get_dataset, list_datasets, register_dataset
from .edm import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, sample_edm, train_edm
from .losses import edm_loss
from .metrics import evaluate, evaluate_seeds, noise_floor
from .networks import MLP, Precond, load_model, save_model, scalings
from .samplers import consistency_sampler, euler_sampler, euler_step, heun_sampler, heun_step
from .schedules import karras_sigmas, sample_lognormal_sigmas
from .train import TrainResult, ema_update, train

__all__ = [
    "GaussianMixture", "get_dataset", "list_datasets", "register_dataset",
    "MLP", "Precond", "scalings", "save_model", "load_model",
    "karras_sigmas", "sample_lognormal_sigmas",
    "edm_loss", "train", "ema_update", "TrainResult",
    "euler_step", "heun_step", "euler_sampler", "heun_sampler", "consistency_sampler",
    "train_edm", "sample_edm", "SIGMA_DATA", "SIGMA_MIN", "SIGMA_MAX",
    "exact_consistency", "sample_consistency",
    "evaluate", "evaluate_seeds", "noise_floor", "plots", "widgets",
]
