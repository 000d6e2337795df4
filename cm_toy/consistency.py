"""Consistency models f(x, sigma): the network that is one, and multistep sampling with any f (Song et al. 2023,
arXiv 2303.01469, Algorithm 1): a trained model, a class-conditional one, or the exact f* (exact.ExactConsistency)."""

import copy

import torch

from .guidance import Guided, class_prior_sample
from .networks import MLP, Precond
from .samplers import consistency_sampler, gaussian_start
from .schedules import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, check_sigmas, sampling_sigmas

__all__ = ["consistency_model", "sample_consistency"]


def consistency_model(
    dim=1,
    *,
    init=None,
    hidden=128,
    depth=3,
    x_features=16,
    x_scale=1.0,
    sigma_data=SIGMA_DATA,
    sigma_min=SIGMA_MIN,
    seed=0,
):
    """A consistency function f(x, sigma) = Precond(MLP, sigma_min > 0), so f(x, sigma_min) = x exactly.

    init: a trained Precond (e.g. the EDM denoiser) whose MLP weights start f; None draws fresh weights with `seed`.
    With sigma_min = 0.002 the consistency scalings differ from EDM's by at most 0.2% at sigma >= 1, so an EDM
    denoiser is already a good f at high noise (the original's "pretrain with diffusion" trick).
    """
    if init is None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            net = MLP(dim, hidden, depth, x_features=x_features, x_scale=x_scale)
    elif isinstance(init, Precond):
        net, sigma_data = copy.deepcopy(init.net), init.sigma_data
    else:
        raise TypeError(f"init must be None or a trained Precond (e.g. from train_edm), got {type(init).__name__}")
    return Precond(net, sigma_data=sigma_data, sigma_min=sigma_min).requires_grad_(True)


def _levels(num_steps, sigmas, sigma_min, sigma_max):
    """The sampling levels: sampling_sigmas(num_steps), or explicit sigmas checked against [sigma_min, sigma_max]."""
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    if sigmas is None:
        return sampling_sigmas(num_steps, sigma_max=sigma_max)
    sigmas = check_sigmas(torch.as_tensor(sigmas, dtype=torch.float32), sigma_min, sigma_max)
    if num_steps != 1 and num_steps != len(sigmas):
        raise ValueError(f"num_steps={num_steps} but {len(sigmas)} sigmas given; give one or the other")
    return sigmas


def _matched_start(noise, T, data_mean, data_std):
    """noise [n, D] turned into x_T / T for x_T ~ N(data_mean, (T^2 + data_std^2) I), the sampler's input."""
    mean = torch.as_tensor(data_mean, dtype=noise.dtype, device=noise.device)
    std = torch.as_tensor(data_std, dtype=noise.dtype, device=noise.device)
    for name, value in (("data_mean", mean), ("data_std", std)):
        if value.dim() > 1 or value.numel() not in (1, noise.shape[1]) or not torch.isfinite(value).all():
            raise ValueError(
                f"{name} must be a finite number or one per coordinate ({noise.shape[1]}), got {value.tolist()}"
            )
    if (std < 0).any():
        raise ValueError(f"data_std must be >= 0, got {std.tolist()}")
    return gaussian_start(noise, T, mean, std) / float(T)


def sample_consistency(
    f,
    n,
    *,
    num_steps=1,
    sigmas=None,
    seed=0,
    sigma_max=SIGMA_MAX,
    labels=None,
    class_prior=True,
    data_mean=0.0,
    data_std=0.0,
    return_trajectory=False,
):
    """n samples from a consistency function f with Algorithm 1 of Song et al. 2023; [n, D].

    f: a consistency model (train_cd, train_ct, ...; a Precond with sigma_min > 0), or any f(x, sigma) with attributes
    sigma_min and dim, such as the exact f* (ExactConsistency(task)): with the same seed every f gets the same noise.
    One step evaluates f(x_T, T) at T = sigma_max. More steps re-noise to each next level tau and apply f again;
    without explicit `sigmas` the levels are `sampling_sigmas(num_steps)`. Explicit sigmas must be strictly
    decreasing inside [f.sigma_min, sigma_max]; they set the number of steps, and T = sigmas[0].
    Where the first step starts: Algorithm 1 draws x_T ~ N(0, T^2 I) (the defaults). The noisy data at level T has the
    data's mean m and variance T^2 + s^2 per coordinate (Karras et al. 2022, arXiv 2206.00364, Eq. 1): data_mean,
    data_std (numbers or one per coordinate; for a task, task.mean() and task.std()) start there, an O(T^-3) match
    (benchmarks/results/start.md measures both starts).
    labels: for a class-conditional model (train_cd_conditional), an int or one label per sample ([n]); None is
    unconditional. class_prior: then start class k at N(mu_k, T^2 + s_k^2), the noisy class itself
    (guidance.class_prior_sample), instead of N(0, T^2) (benchmarks/results/conditional.md measures both).
    """
    if isinstance(f, Precond) and not f.is_consistency:
        raise TypeError("f must be a consistency model (sigma_min > 0, from train_cd / train_ct), not a denoiser")
    if not getattr(f, "sigma_min", 0) > 0 or not (isinstance(f, Precond) or hasattr(f, "dim")):
        raise TypeError("f must be a consistency model or a callable f(x, sigma) with attributes sigma_min > 0 and dim")
    params = list(f.parameters()) if isinstance(f, torch.nn.Module) else []
    device = params[0].device if params else torch.device("cpu")
    dim = f.net.dim if isinstance(f, Precond) else f.dim
    sigmas = _levels(num_steps, sigmas, f.sigma_min, sigma_max)
    generator = torch.Generator(device).manual_seed(seed)
    noise = torch.randn(int(n), dim, generator=generator, device=device)
    if labels is None:
        noise = _matched_start(noise, sigmas[0], data_mean, data_std)
    elif torch.as_tensor(data_mean).any() or torch.as_tensor(data_std).any():
        raise ValueError("data_mean and data_std set the unconditional start; with labels, use class_prior")
    else:
        f = Guided(f, labels, 0.0, n=int(n))
        if class_prior:
            noise = class_prior_sample(f, f.labels, noise, sigmas[0].item()) / sigmas[0].item()
    return consistency_sampler(f, noise, sigmas.to(device), generator=generator, return_trajectory=return_trajectory)
