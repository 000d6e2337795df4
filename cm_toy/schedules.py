"""Noise levels and everything that changes with the training step: pure functions, no state."""

import math

import torch

__all__ = ["SIGMA_DATA", "SIGMA_MIN", "SIGMA_MAX", "karras_sigmas", "sampling_sigmas", "sample_lognormal_sigmas"]
__all__ += ["cosine_decay", "ema_decay_at", "check_sigmas", "consistency_sigmas", "song2023_num_scales"]
__all__ += ["song2023_target_decay", "ict_num_scales", "lognormal_interval_probs", "ect_r"]


# Noise range and data scale for every toy task. The tasks' standard deviations lie between 0.2 and 1.5 and their
# root-mean-squares between 1.0 and 1.5, so sigma_data = 1 sits on the data's scale (the original used 0.5), and
# sigma_max = 80 puts p_sigma_max so close to N(0, sigma_max^2) that starting there costs nothing (the original's
# sigma_max = 1 left a prior that differs from the noisy data, whatever the model learns).
SIGMA_DATA = 1.0
SIGMA_MIN = 0.002
SIGMA_MAX = 80.0


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


# Multistep consistency sampling levels after sigma_max: geometric over [SAMPLING_SIGMA_LOW, SAMPLING_SIGMA_HIGH] (two
# steps: 0.55), around the modes' spacing and the data scale, where a step can still move samples between modes. No
# other bounds win on every task (benchmarks/results/drift.md, "Candidate levels for sampling_sigmas").
SAMPLING_SIGMA_HIGH = 1.0
SAMPLING_SIGMA_LOW = 0.3


def sampling_sigmas(num_steps, *, sigma_max=SIGMA_MAX, sigma_high=SAMPLING_SIGMA_HIGH, sigma_low=SAMPLING_SIGMA_LOW):
    """Default levels for multistep consistency sampling: sigma_max, then num_steps - 1 levels spread geometrically
    over [sigma_low, sigma_high] (for two steps, their geometric mean)."""
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    if num_steps == 1:  # one step evaluates f at sigma_max only: sigma_high and sigma_low play no part
        if not sigma_max > 0:
            raise ValueError(f"sigma_max must be > 0, got {sigma_max}")
        return torch.tensor([float(sigma_max)])
    if not (0 < sigma_low <= sigma_high < sigma_max):
        raise ValueError(
            f"need 0 < sigma_low <= sigma_high < sigma_max for {num_steps} steps, got sigma_low="
            f"{sigma_low}, sigma_high={sigma_high}, sigma_max={sigma_max}"
        )
    hi, lo = torch.tensor(float(sigma_high)).log(), torch.tensor(float(sigma_low)).log()
    rest = (hi + lo) / 2 if num_steps == 2 else torch.linspace(hi, lo, int(num_steps) - 1)
    return torch.cat([torch.tensor([float(sigma_max)]), rest.exp().reshape(-1)])


# EDM training noise distribution: ln sigma ~ N(P_mean, P_std^2) (Karras et al. 2022, Table 1).
def sample_lognormal_sigmas(n, P_mean=-1.2, P_std=1.2, generator=None, device="cpu"):
    return (P_mean + P_std * torch.randn(n, generator=generator, device=device)).exp()


# Cosine learning-rate decay from 1 to 0 over `steps` (Loshchilov & Hutter 2016, arXiv 1608.03983, Eq. 5 without
# restarts), a pure function of the step: the multiplier train's lr_schedule takes.
def cosine_decay(steps):
    return lambda step: 0.5 * (1 + math.cos(math.pi * step / steps))


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


# ----- consistency training: discretisation curricula and target-network decays, each a pure function of the step ---


def consistency_sigmas(num_scales, sigma_min=0.002, sigma_max=80.0, rho=7.0):
    """The N increasing levels t_1 = sigma_min < ... < t_N = sigma_max of Song et al. 2023 (Sec. 5, Karras grid)."""
    if int(num_scales) != num_scales or num_scales < 2:
        raise ValueError(f"num_scales must be an integer >= 2, got {num_scales}")
    return karras_sigmas(int(num_scales), sigma_min, sigma_max, rho).flip(0)


# Song et al. 2023, Appendix C: N(k) = ceil(sqrt(k / K ((s1 + 1)^2 - s0^2) + s0^2) - 1) + 1.
def song2023_num_scales(step, total_steps, s0=2, s1=150):
    """Number of discretisation levels at training step k of K: grows like sqrt(k) from s0 to s1 + 1."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    k = min(max(step, 0), total_steps)
    return math.ceil(math.sqrt(k / total_steps * ((s1 + 1) ** 2 - s0**2) + s0**2) - 1) + 1


# Song et al. 2023, Appendix C: mu(k) = exp(s0 ln(mu0) / N(k)).
def song2023_target_decay(num_scales, s0=2, mu0=0.9):
    """Target-network EMA decay for a discretisation of num_scales levels: mu0 at the start, towards 1 as N grows."""
    return math.exp(s0 * math.log(mu0) / num_scales)


# Song & Dhariwal 2023 (iCT, arXiv 2310.14189, Sec. 3.4): N(k) = min(s0 2^floor(k / K'), s1) + 1,
# K' = floor(K / (log2 floor(s1 / s0) + 1)).
def ict_num_scales(step, total_steps, s0=10, s1=1280):
    """Exponential curriculum: the number of levels doubles in equal stages from s0 + 1 to s1 + 1."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    stage_steps = max(1, total_steps // (int(math.log2(s1 // s0)) + 1))
    return min(s0 * 2 ** (max(step, 0) // stage_steps), s1) + 1


# iCT (Song & Dhariwal 2023, Sec. 3.5): discretised log-normal over the intervals [sigma_i, sigma_{i+1}],
# p(i) proportional to erf((ln sigma_{i+1} - P_mean) / (sqrt(2) P_std)) - erf((ln sigma_i - P_mean) / (sqrt(2) P_std)).
def lognormal_interval_probs(sigmas, P_mean=-1.1, P_std=2.0):
    """Probabilities of the N - 1 intervals of an increasing level grid; sums to 1."""
    cdf = torch.erf((torch.as_tensor(sigmas, dtype=torch.float64).log() - P_mean) / (math.sqrt(2) * P_std))
    p = cdf[1:] - cdf[:-1]
    return p / p.sum()


# ECT (Geng et al. 2024, arXiv 2406.14548, Sec. 3 and Eq. 8): r = t (1 - q^-(s+1) (1 + k sigmoid(-b t))), stage s.
def ect_r(t, stage, q=2.0, k=8.0, b=1.0):
    """The lower level r(t) < t that ECT pairs with t at a given stage; the gap t - r shrinks by q each stage.

    Values below zero (small t at early stages) mean "target = the clean data": the caller clamps r to sigma_min.
    """
    t = torch.as_tensor(t)
    return t * (1 - q ** -(stage + 1) * (1 + k * torch.sigmoid(-b * t)))
