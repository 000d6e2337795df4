"""A cm_toy model driven by diffusers' schedulers: the `unet(sample, timestep)` they call and the scheduler set up for
it. diffusers is optional (pip install "cm-toy[interop]"); it is imported only inside these functions."""

import torch

from .networks import Precond
from .schedules import check_sigmas

__all__ = ["diffusers_scheduler", "diffusers_unet"]

# openai/consistency_models and diffusers' CMStochasticIterativeScheduler feed the network 1000 * 0.25 ln(sigma),
# EDMEulerScheduler feeds 0.25 ln(sigma), cm_toy's c_noise (Karras et al. 2022, arXiv 2206.00364, Table 1).
CM_TIMESTEP_SCALE = 1000.0
CM_NUM_TRAIN_TIMESTEPS = 40  # CMStochasticIterativeScheduler's default N, also train_cd's num_scales


def _check_model(model):
    if type(model) is not Precond:
        raise TypeError(f"model must be a Precond (from train_edm, train_cd or train_ct), got {type(model).__name__}")


def diffusers_unet(model):
    """The network F inside `model` as the `unet(sample, timestep)` that diffusers' schedulers drive.

    The scheduler scales the sample by c_in (scale_model_input) and forms c_skip x + c_out F itself (step), so only F
    runs here, on c_noise = timestep / 1000 for a consistency model (CMStochasticIterativeScheduler's convention) and
    c_noise = timestep for an EDM denoiser (EDMEulerScheduler's). sample: [B, D] or [B, ...], any float dtype;
    timestep: a number or one per row. Returns F with the sample's shape and dtype.
    """
    _check_model(model)
    scale = CM_TIMESTEP_SCALE if model.is_consistency else 1.0
    dtype = next(model.net.parameters()).dtype

    @torch.no_grad()
    def unet(sample, timestep):
        batch = sample.shape[0]
        c_noise = torch.as_tensor(timestep, device=sample.device).reshape(-1).expand(batch) / scale
        F = model.net(sample.reshape(batch, -1).to(dtype), c_noise.to(dtype))
        return F.reshape(sample.shape).to(sample.dtype)

    return unet


def diffusers_scheduler(model, sigmas, **config):
    """The diffusers scheduler for `model`, set to cm_toy's levels `sigmas` (strictly decreasing, no trailing 0).

    A consistency model gets CMStochasticIterativeScheduler (Song et al. 2023, arXiv 2303.01469, Algorithm 1; its
    levels end with sigma_min, where the last step adds no noise up to float32 rounding), an EDM denoiser
    EDMEulerScheduler (Euler steps of the PF-ODE through `sigmas`, then to 0). Both get the model's sigma_data, the
    consistency scheduler also the model's sigma_min and no clipping of f to [-1, 1] (its defaults: sigma_data 0.5,
    clip_denoised=True). The levels are set directly: set_timesteps only places them on the scheduler's own Karras grid.
    Start the loop from sigmas[0] * noise (EDMEulerScheduler's init_noise_sigma is sqrt(sigma_max^2 + 1)).
    config: settings passed on to the scheduler over these, e.g. sigma_data=0.5, clip_denoised=True (its defaults).
    """
    from diffusers import CMStochasticIterativeScheduler, EDMEulerScheduler  # optional dependency

    _check_model(model)
    sigmas = check_sigmas(torch.as_tensor(sigmas), sigma_min=model.sigma_min)
    if model.is_consistency:
        # step() reads the next level from sigmas[i + 1] only while i + 1 < num_train_timesteps.
        settings = {
            "num_train_timesteps": max(CM_NUM_TRAIN_TIMESTEPS, len(sigmas)),
            "sigma_min": model.sigma_min,
            "sigma_max": float(sigmas[0]),
            "sigma_data": model.sigma_data,
            "clip_denoised": False,
        }
        scheduler = CMStochasticIterativeScheduler(**(settings | config))
        scheduler.timesteps = torch.from_numpy(scheduler.sigma_to_t(sigmas.double().cpu().numpy()))
        scheduler.sigmas = torch.cat([sigmas, sigmas.new_tensor([scheduler.config.sigma_min])]).cpu()
    else:
        settings = {"sigma_min": float(sigmas[-1]), "sigma_max": float(sigmas[0]), "sigma_data": model.sigma_data}
        scheduler = EDMEulerScheduler(**(settings | config))
        scheduler.timesteps = scheduler.precondition_noise(sigmas)
        scheduler.sigmas = torch.cat([sigmas, sigmas.new_zeros(1)]).cpu()
    scheduler.num_inference_steps = len(sigmas)
    return scheduler
