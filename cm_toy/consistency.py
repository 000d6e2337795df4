"""Consistency functions: the exact one of a mixture, and sampling from a learned one."""
import torch

from .data import get_dataset
from .edm import SIGMA_MAX, SIGMA_MIN
from .samplers import consistency_sampler, heun_step
from .schedules import karras_sigmas

__all__ = ["exact_consistency", "sample_consistency"]


# The consistency function f*(x, sigma) maps x at level sigma along the PF-ODE to level sigma_min
# (Song et al. 2023, Eq. 3 and Definition of f); here integrated with Heun steps and the mixture's exact denoiser.
@torch.no_grad()
def exact_consistency(task, x, sigma, *, sigma_min=SIGMA_MIN, num_steps=256, rho=7.0):
    """f*(x, sigma) for every row of x [n, D] at its level sigma (scalar or [n]); computed in float64."""
    task = get_dataset(task)
    x = torch.as_tensor(x)
    if x.dim() != 2 or x.shape[1] != task.dim:
        raise ValueError(f"x must have shape [n, {task.dim}], got {list(x.shape)}")
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1, 1).expand(len(x), 1)
    if (sigma < sigma_min).any():
        raise ValueError(f"sigma must be >= sigma_min = {sigma_min}")
    ramp = torch.linspace(0, 1, num_steps + 1, dtype=torch.float64, device=x.device)[:, None, None]
    grid = (sigma ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma ** (1 / rho))) ** rho  # [K+1, n, 1]
    grid[-1] = sigma_min
    out = x.double()
    for s, s_next in zip(grid[:-1], grid[1:]):
        out = heun_step(task.denoise, out, s, s_next)
    return out.to(x.dtype)


def sample_consistency(model, n, *, num_steps=1, sigmas=None, seed=0, sigma_max=SIGMA_MAX, return_trajectory=False):
    """n samples from a consistency model with Algorithm 1 of Song et al. 2023; [n, D].

    One step evaluates f(sigma_max z, sigma_max). With num_steps > 1 and no explicit sigmas, the levels are a Karras
    grid of num_steps levels from sigma_max (a later notebook studies better choices).
    """
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    device = next(model.parameters()).device
    if sigmas is None:
        sigmas = karras_sigmas(num_steps, model.sigma_min * 1.0001, sigma_max)[:num_steps]
    generator = torch.Generator(device).manual_seed(seed)
    noise = torch.randn(int(n), model.net.dim, generator=generator, device=device)
    return consistency_sampler(model, noise, torch.as_tensor(sigmas, device=device), generator=generator,
                               return_trajectory=return_trajectory)
