"""The exact consistency function f* of a Gaussian mixture: CDF inversion in 1D, an accurate ODE solve in D > 1."""

import functools
import math

import torch

from .data import get_dataset
from .schedules import SIGMA_MIN

__all__ = ["exact_consistency", "ode_consistency", "ExactConsistency", "ODE_STEPS", "ODE_TOLERANCE"]

# Fifth-order steps of the PF-ODE in D > 1 (see ode_consistency), 480 denoiser calls. At sigma = 80 they leave f* off by
# at most 3.4e-5 over 10,000 noisy samples of ring8_2D or grid25_2D, and by less than ODE_TOLERANCE where outputs land
# in the gaps between modes (down to 5e-6 of the peak density): there the flow pulls neighbouring inputs apart and
# magnifies every step's error, the more so the emptier the gap. tests/test_exact.py holds the solver to ODE_TOLERANCE.
ODE_STEPS = 80
ODE_TOLERANCE = 1e-4


def _check(task, x, sigma, sigma_min, num_steps):
    """The task, x in float64 and sigma as [n, 1] in float64, after checking every argument."""
    task = get_dataset(task)
    x = torch.as_tensor(x)
    if x.dim() != 2 or x.shape[1] != task.dim:
        raise ValueError(f"x must have shape [n, {task.dim}], got {list(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"x must be finite, got {(~torch.isfinite(x)).sum().item()} NaN or infinite entries")
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    if not (math.isfinite(sigma_min) and sigma_min > 0):
        raise ValueError(f"sigma_min must be a finite number > 0, got {sigma_min}")
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device)
    if sigma.numel() not in (1, len(x)):
        raise ValueError(f"sigma must be a number or one level per row of x ({len(x)}), got shape {list(sigma.shape)}")
    if not (torch.isfinite(sigma) & (sigma >= sigma_min * (1 - 1e-6))).all():
        raise ValueError(f"sigma must be finite and >= sigma_min = {sigma_min}, got {sigma.min().item()}")
    sigma = sigma.clamp_min(sigma_min)  # levels within float32 rounding (1e-6) below sigma_min are sigma_min
    return task, x.double(), sigma.reshape(-1, 1).expand(len(x), 1)


# f* follows the PF-ODE (Song et al. 2023, arXiv 2303.01469, Eq. 3; Karras et al. 2022, arXiv 2206.00364, Eq. 4). In 1D
# its trajectories never cross, so it keeps the mass below every point: f*(x, sigma) = F_{sigma_min}^{-1}(F_sigma(x)),
# F_s the CDF of the task noised to level s, a mixture with stds sqrt(s_k^2 + s^2). Bisection on log-CDFs (on log
# survival functions above the median) keeps float64 precision in both tails.
def _cdf_flow(task, x, sigma, sigma_min):
    w, mu, s = (t.to(x.device) for t in (task.weights, task.means[:, 0], task.stds))

    def log_cdf(y, level, upper):  # log F_level(y), or log(1 - F_level(y)) where upper; [n, 1]
        z = (y - mu) / (s**2 + level**2).sqrt()
        return torch.logsumexp(w.log() + torch.special.log_ndtr(torch.where(upper, -z, z)), dim=1, keepdim=True)

    upper = log_cdf(x, sigma, torch.zeros_like(x, dtype=torch.bool)) > math.log(0.5)
    target = log_cdf(x, sigma, upper)
    excess = lambda y: torch.where(upper, target - log_cdf(y, sigma_min, upper), log_cdf(y, sigma_min, upper) - target)
    m, v = task.mean().item(), task.std().item() ** 2  # start at f* of the Gaussian with the task's mean and variance
    lo = hi = m + (x - m) * ((v + sigma_min**2) / (v + sigma**2)).sqrt()
    step = torch.full_like(x, math.sqrt(v))
    for _ in range(1100):  # widen [lo, hi] by doubling steps until excess(lo) <= 0 <= excess(hi)
        lo_ok, hi_ok = excess(lo) <= 0, excess(hi) >= 0
        if lo_ok.all() and hi_ok.all():
            break
        lo, hi, step = torch.where(lo_ok, lo, lo - step), torch.where(hi_ok, hi, hi + step), 2 * step
    else:
        raise ValueError("could not bracket f*(x, sigma): x is too far out for float64 CDFs")
    resolution = torch.finfo(torch.float64).eps
    while True:  # halve until every bracket is one float64 spacing wide (relative to the narrowest mode near zero)
        mid = lo + (hi - lo) / 2
        if not (hi - lo > resolution * torch.maximum(torch.maximum(lo.abs(), hi.abs()), s.min())).any():
            return mid
        right = excess(mid) >= 0
        lo, hi = torch.where(right, lo, mid), torch.where(right, mid, hi)


# Dormand & Prince 1980 (J. Comput. Appl. Math. 6, 19-26), the fifth-order solution of their RK5(4) pair: its nodes C,
# stage weights A and solution weights B.
C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)


@torch.no_grad()
def ode_consistency(task, x, sigma, *, sigma_min=SIGMA_MIN, num_steps=ODE_STEPS):
    """f*(x, sigma) in any dimension, in x's dtype: the PF-ODE dx/dsigma = (x - D(x, sigma)) / sigma (Karras et al.
    2022, Eq. 4) with the mixture's exact denoiser D, from each row's sigma down to sigma_min, in num_steps fixed
    Dormand-Prince steps (float64 inside)."""
    task, x64, sigma64 = _check(task, x, sigma, sigma_min, num_steps)
    return _ode_flow(task, x64, sigma64, sigma_min, num_steps).to(torch.as_tensor(x).dtype)


def _ode_flow(task, x, sigma, sigma_min, num_steps):
    # The task at level sigma is the task with every variance lowered by c^2 (c: the smallest std) at level tau, tau^2 =
    # sigma^2 + c^2, so the same flow is the PF-ODE in tau. Steps uniform in u = log(tau / c) are uniform in log sigma
    # above c and few below it, where p_sigma hardly changes; dx/du = (tau / sigma)^2 (x - D(x, sigma)).
    c2 = task.stds.min().item() ** 2
    u0, u1 = torch.log1p(sigma**2 / c2) / 2, math.log1p(sigma_min**2 / c2) / 2
    h = (u1 - u0) / num_steps  # [n, 1]: every row has its own grid

    def slope(y, u):
        s2 = c2 * torch.expm1(2 * u)
        return (1 + c2 / s2) * (y - task.denoise(y, s2.sqrt()))

    for i in range(int(num_steps)):
        u, k = u0 + i * h, []
        for c_j, a_j in zip(C, A):
            k.append(slope(x + h * sum(a * k_l for a, k_l in zip(a_j, k)), u + c_j * h))
        x = x + h * sum(b * k_j for b, k_j in zip(B, k))
    return x


@torch.no_grad()
def exact_consistency(task, x, sigma, *, sigma_min=SIGMA_MIN, num_steps=ODE_STEPS):
    """f*(x, sigma) for every row of x [n, D] at its level sigma (a number or [n]), in x's dtype (float64 inside).

    1D: exact to float64 precision by CDF inversion. D > 1: ode_consistency with num_steps fifth-order steps, within
    ODE_TOLERANCE of the exact flow (num_steps plays no part in 1D)."""
    task, x64, sigma64 = _check(task, x, sigma, sigma_min, num_steps)
    flow = _cdf_flow if task.dim == 1 else functools.partial(_ode_flow, num_steps=num_steps)
    return flow(task, x64, sigma64, sigma_min).to(torch.as_tensor(x).dtype)


class ExactConsistency:
    """f* of a task as a consistency function f(x, sigma) for the samplers: what a perfect consistency model computes.

    task: a task name or GaussianMixture; sigma_min: where f is the identity, f(x, sigma_min) = x; num_steps: the ODE's
    steps in D > 1 (see exact_consistency)."""

    def __init__(self, task, sigma_min=SIGMA_MIN, num_steps=ODE_STEPS):
        task = get_dataset(task)
        _check(task, torch.zeros(1, task.dim), sigma_min, sigma_min, num_steps)  # the same errors as exact_consistency
        self.task, self.sigma_min, self.num_steps = task, float(sigma_min), int(num_steps)

    @property
    def dim(self):
        return self.task.dim

    def __call__(self, x, sigma):
        return exact_consistency(self.task, x, sigma, sigma_min=self.sigma_min, num_steps=self.num_steps)

    def __repr__(self):
        return f"ExactConsistency({self.task}, sigma_min={self.sigma_min}, num_steps={self.num_steps})"
