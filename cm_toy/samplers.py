"""Samplers: pure functions of a model, a starting point and an explicit, decreasing tensor of noise levels."""

import torch

from .schedules import check_sigmas

__all__ = ["euler_step", "heun_step", "euler_sampler", "heun_sampler", "consistency_sampler", "gaussian_start"]


# Probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma (Karras et al. 2022, Eq. 4 with sigma(t) = t).
def _slope(denoiser, x, sigma):
    return (x - denoiser(x, sigma)) / sigma


# One Euler step of the PF-ODE (Karras et al. 2022, Eq. 4; Algorithm 1 without its second-order correction).
def euler_step(denoiser, x, sigma, sigma_next):
    return x + (sigma_next - sigma) * _slope(denoiser, x, sigma)


# One Heun step of the PF-ODE (Karras et al. 2022, Algorithm 1, lines 4-8); Euler when stepping to sigma = 0.
def heun_step(denoiser, x, sigma, sigma_next):
    d = _slope(denoiser, x, sigma)
    x_next = x + (sigma_next - sigma) * d
    if torch.is_tensor(sigma_next) and sigma_next.dim() > 0:  # per-sample levels, as in distillation batches
        d_next = _slope(denoiser, x_next, sigma_next.clamp_min(1e-12))
        return torch.where(sigma_next > 0, x + (sigma_next - sigma) * (d + d_next) / 2, x_next)
    if sigma_next == 0:
        return x_next
    return x + (sigma_next - sigma) * (d + _slope(denoiser, x_next, sigma_next)) / 2


def _levels_like(sigmas, x):
    """The levels on x's device, in x's dtype or the levels' own if that is wider (float32 levels with float64 x
    step in float64; float64 levels with float32 x keep their float64 differences)."""
    return sigmas.to(x.device, torch.promote_types(sigmas.dtype, x.dtype))


def _ode_sampler(step, denoiser, x, sigmas, return_trajectory):
    sigmas = _levels_like(check_sigmas(sigmas, allow_zero_end=True), x)
    x = x * sigmas[0]
    trajectory = [x]
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        x = step(denoiser, x, sigma, sigma_next)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@torch.no_grad()
def euler_sampler(denoiser, noise, sigmas, *, return_trajectory=False):
    """Integrate the PF-ODE from sigmas[0] * noise through every level in `sigmas` (end it with 0 to reach the data).

    noise: unit noise [B, D] or [B, ...], float32 or float64 (float32 levels then step in float64)."""
    return _ode_sampler(euler_step, denoiser, noise, sigmas, return_trajectory)


@torch.no_grad()
def heun_sampler(denoiser, noise, sigmas, *, return_trajectory=False):
    """As euler_sampler, with Heun's second-order step: 2 * len(sigmas) - 3 network calls when sigmas ends in 0."""
    return _ode_sampler(heun_step, denoiser, noise, sigmas, return_trajectory)


# Multistep consistency sampling (Song et al. 2023, Algorithm 1).
@torch.no_grad()
def consistency_sampler(model, noise, sigmas, *, sigma_min=None, generator=None, return_trajectory=False):
    """x = f(sigmas[0] noise, sigmas[0]); then for each next level tau: x = f(x + sqrt(tau^2 - sigma_min^2) z, tau).

    One level gives one-step sampling. The trajectory holds the noisy input and the output of every step.
    """
    sigma_min = model.sigma_min if sigma_min is None else sigma_min
    sigmas = _levels_like(check_sigmas(sigmas, sigma_min=sigma_min), noise)
    x_noisy = noise * sigmas[0]
    x = model(x_noisy, sigmas[0])
    trajectory = [x_noisy, x]
    for tau in sigmas[1:]:
        z = torch.randn(noise.shape, generator=generator, device=noise.device, dtype=noise.dtype)
        x_noisy = x + (tau**2 - sigma_min**2).sqrt() * z
        x = model(x_noisy, tau)
        trajectory += [x_noisy, x]
    return (x, torch.stack(trajectory)) if return_trajectory else x


# Where sampling starts: data N(mean, std^2 I) noised to level T is exactly N(mean, (T^2 + std^2) I) (Karras et al.
# 2022, arXiv 2206.00364, Eq. 1: x_T = x_0 + T n, a sum of independent Gaussians).
def gaussian_start(noise, T, mean, std):
    """x_T = mean + sqrt(T^2 + std^2) noise; mean and std broadcast against noise [n, D]."""
    return mean + (float(T) ** 2 + std**2).sqrt() * noise
