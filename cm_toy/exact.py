"""TEMPORARY stand-in (replaced by the exact f* module)."""

import torch

from .data import get_dataset
from .samplers import heun_step
from .schedules import SIGMA_MIN

__all__ = ["exact_consistency", "ExactConsistency"]


# f*(x, sigma) maps x at level sigma along the PF-ODE to level sigma_min (Song et al. 2023, arXiv 2303.01469, Eq. 3),
# here by Heun steps on a Karras grid with the mixture's exact denoiser. The error is second order in the step; 256
# steps keep it below 1e-3 at sigma = 80, a tenth of the W1 noise floor of 10,000 samples (tests/test_consistency.py).
@torch.no_grad()
def exact_consistency(task, x, sigma, *, sigma_min=SIGMA_MIN, num_steps=256, rho=7.0):
    """f*(x, sigma) for every row of x [n, D] at its level sigma (scalar or [n]); computed in float64."""
    task = get_dataset(task)
    x = torch.as_tensor(x)
    if x.dim() != 2 or x.shape[1] != task.dim:
        raise ValueError(f"x must have shape [n, {task.dim}], got {list(x.shape)}")
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1, 1).expand(len(x), 1)
    if (sigma < sigma_min).any():
        raise ValueError(f"sigma must be >= sigma_min = {sigma_min}")
    ramp = torch.linspace(0, 1, int(num_steps) + 1, dtype=torch.float64, device=x.device)[:, None, None]
    grid = (sigma ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma ** (1 / rho))) ** rho  # [K+1, n, 1]
    grid[-1] = sigma_min
    out = x.double()
    for s, s_next in zip(grid[:-1], grid[1:]):
        out = heun_step(task.denoise, out, s, s_next)
    return out.to(x.dtype)


class ExactConsistency:
    """f* of a task as a callable f(x, sigma) for the samplers."""

    def __init__(self, task, sigma_min=SIGMA_MIN, num_steps=256):
        self.task, self.sigma_min, self.num_steps = get_dataset(task), float(sigma_min), num_steps
        self.dim = self.task.dim

    def __call__(self, x, sigma):
        return exact_consistency(self.task, x.double(), sigma, sigma_min=self.sigma_min, num_steps=self.num_steps).to(
            x.dtype
        )
