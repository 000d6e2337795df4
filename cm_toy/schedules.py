"""Noise levels and everything that changes with the training step: pure functions, no state."""
import math

import torch

__all__ = ["karras_sigmas", "sample_lognormal_sigmas", "ema_decay_at", "check_sigmas"]


def _check_range(sigma_min, sigma_max):
    if not (0 < sigma_min < sigma_max):
        raise ValueError(f"need 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")


# Karras et al. 2022, Eq. 5: sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho.
def karras_sigmas(num_steps, sigma_min=0.002, sigma_max=80.0, rho=7.0):
    """num_steps decreasing noise levels from sigma_max to sigma_min (no trailing zero)."""
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    _check_range(sigma_min, sigma_max)
    if num_steps == 1:
        return torch.tensor([float(sigma_max)])
    ramp = torch.linspace(0, 1, int(num_steps), dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return ((hi + ramp * (lo - hi)) ** rho).float()


# EDM training noise distribution: ln sigma ~ N(P_mean, P_std^2) (Karras et al. 2022, Table 1).
def sample_lognormal_sigmas(n, P_mean=-1.2, P_std=1.2, generator=None, device="cpu"):
    return (P_mean + P_std * torch.randn(n, generator=generator, device=device)).exp()


def ema_decay_at(step, decay):
    """EMA decay at a step: `decay`, warmed up as min(decay, (1 + step) / (10 + step)) so early weights wash out."""
    return min(decay, (1 + step) / (10 + step))


def check_sigmas(sigmas, sigma_min=None, sigma_max=None, *, allow_zero_end=False):
    """Raise a clear error unless `sigmas` is a 1D, strictly decreasing tensor inside [sigma_min, sigma_max]."""
    sigmas = torch.as_tensor(sigmas)
    if not sigmas.is_floating_point():
        raise ValueError(f"sigmas must be a floating-point tensor, got dtype {sigmas.dtype}")
    if sigmas.dim() != 1 or len(sigmas) < 1:
        raise ValueError(f"sigmas must be a 1D tensor with at least one level, got shape {list(sigmas.shape)}")
    if len(sigmas) > 1 and not (sigmas[1:] < sigmas[:-1]).all():
        raise ValueError(f"sigmas must be strictly decreasing, got {sigmas.tolist()}")
    body = sigmas[:-1] if allow_zero_end and sigmas[-1] == 0 else sigmas
    lo = 0.0 if sigma_min is None else sigma_min
    hi = math.inf if sigma_max is None else sigma_max
    tol = 1e-6 * max(1.0, hi if math.isfinite(hi) else 1.0)
    if len(body) and (body.min() < lo - tol or body.max() > hi + tol or body.min() <= 0):
        raise ValueError(f"sigmas must lie in [sigma_min={lo}, sigma_max={hi}] and be > 0, got {sigmas.tolist()}")
    return sigmas
