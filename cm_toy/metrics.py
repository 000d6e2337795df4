"""Sample quality against the exact target distribution, and the noise floor that exact samples of the same size score.

In 1D every number is computed against the analytic mixture: the Wasserstein-1 distance is the integral of
|F_n - F| with the mixture's exact CDF F. In D > 1 dimensions w1 and ks are averaged over fixed one-dimensional
projections (sliced), each again exact, because a projected Gaussian mixture is a 1D Gaussian mixture.
"""

import functools
import math

import torch

from .data import GaussianMixture, get_dataset

__all__ = ["evaluate", "evaluate_seeds", "noise_floor", "wasserstein1", "ks_statistic", "slice_directions", "projected"]
__all__ += ["cdf_grid", "METRICS"]

METRICS = ("w1", "ks", "mode_mass_err", "gap_mass", "gap_mass_true", "std_ratio")
GAP_LEVEL = 0.01  # "gap": where the true density is below 1% of its peak
NUM_SLICES = 32  # projections for D > 1


def cdf_grid(task, samples=None, num=200_001):
    """A fine float64 grid [num, 1] covering the 1D task (10 stds past every mode) and the samples."""
    lo = (task.means[:, 0] - 10 * task.stds).min().item()
    hi = (task.means[:, 0] + 10 * task.stds).max().item()
    if samples is not None:
        lo, hi = min(lo, samples.min().item()), max(hi, samples.max().item())
    return torch.linspace(lo, hi, num, dtype=torch.float64)[:, None]


def _trapezoid(y, x):
    return torch.trapezoid(y, x[:, 0]).item()


# Wasserstein-1 in 1D: the integral of |F_n(x) - F(x)| dx (Vallender 1974).
# Integrated piecewise and in closed form: between consecutive breakpoints (the sorted samples and a fixed grid) F_n is
# a constant c, and the integral of F has the closed form G(x) = sum_k w_k s_k (z_k Phi(z_k) + phi(z_k)),
# z_k = (x - mu_k) / s_k, so each piece contributes |c (b - a) - (G(b) - G(a))| exactly unless F crosses c inside it,
# where the error is below p_max (b - a)^2. This costs n + 4,001 points, cheap enough for the 32 slices of a 2D task,
# and agrees with a 400,001-point trapezoid rule to 2e-6 (tests/test_tasks.py).
def _cdf_integral(task, x):
    """G(x) = integral of the 1D mixture's CDF from -inf to x, [n], float64."""
    s = task.stds
    z = (x[:, None] - task.means[:, 0]) / s
    Phi = 0.5 * torch.erfc(-z / math.sqrt(2))
    phi = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return (task.weights * s * (z * Phi + phi)).sum(dim=1)


def wasserstein1(samples, task, *, grid_points=4_001):
    """Exact W1 between the empirical distribution of 1D samples [n, 1] and the analytic mixture."""
    sorted_samples = samples[:, 0].double().sort().values
    grid = cdf_grid(task, samples, num=grid_points)[:, 0]
    x = torch.cat([sorted_samples, grid]).sort().values
    a, b = x[:-1], x[1:]
    c = torch.searchsorted(sorted_samples, a, right=True).double() / len(sorted_samples)  # F_n on [a, b)
    G = _cdf_integral(task, x)
    return (c * (b - a) - (G[1:] - G[:-1])).abs().sum().item()


def ks_statistic(samples, task):
    """Kolmogorov-Smirnov statistic sup |F_n - F| of 1D samples against the analytic CDF."""
    s = samples.double().sort(dim=0).values
    F = task.cdf(s)
    i = torch.arange(1, len(s) + 1, dtype=torch.float64)
    return torch.maximum(i / len(s) - F, F - (i - 1) / len(s)).max().item()


def slice_directions(task):
    """The fixed unit directions [NUM_SLICES, D] that sliced metrics project onto (one, [1, 1], in 1D)."""
    if task.dim == 1:
        return torch.ones(1, 1, dtype=torch.float64)
    g = torch.Generator().manual_seed(1234)  # fixed directions: every evaluation uses the same slices
    u = torch.randn(NUM_SLICES, task.dim, generator=g, dtype=torch.float64)
    return u / u.norm(dim=1, keepdim=True)


def projected(task, u):
    """The 1D mixture of the task projected onto direction u [D, 1]."""
    return GaussianMixture(task.weights, task.means @ u, task.stds)


def _peak_density(task):
    points = task.means if task.dim > 1 else torch.cat([task.means, cdf_grid(task, num=20_001)])
    return task.pdf(points).max().item()


@functools.lru_cache(maxsize=64)
def _gap_mass_true(task_key):
    task = GaussianMixture(*task_key)
    threshold = GAP_LEVEL * _peak_density(task)
    if task.dim == 1:
        x = cdf_grid(task)
        p = task.pdf(x)
        return _trapezoid(torch.where(p < threshold, p, 0), x)
    x = task.sample(1_000_000, torch.Generator().manual_seed(0)).double()  # Monte Carlo, standard error < 3e-4
    return (task.pdf(x) < threshold).double().mean().item()


def _key(task):
    return (tuple(task.weights.tolist()), tuple(map(tuple, task.means.tolist())), tuple(task.stds.tolist()))


def evaluate(samples, task):
    """Quality of samples [n, D] against the exact task: a dict of floats.

    w1: Wasserstein-1 (sliced in D > 1); ks: Kolmogorov-Smirnov statistic (sliced mean in D > 1);
    mode_mass_err: max over components of |share of samples assigned to it - its weight| (soft assignment by the exact
    posterior p(k | x), whose mean under the true distribution is exactly the weight); gap_mass: share of samples where
    the true density is below 1% of its peak, next to gap_mass_true, that share under the true distribution;
    std_ratio: sample standard deviation over the true one (root of summed variances in D > 1).
    """
    task = get_dataset(task)
    samples = torch.as_tensor(samples).detach().cpu()
    if samples.dim() != 2 or samples.shape[1] != task.dim or len(samples) < 2:
        raise ValueError(f"samples must have shape [n >= 2, {task.dim}], got {list(samples.shape)}")
    bad = (~torch.isfinite(samples)).any(dim=1).sum().item()
    if bad:
        raise ValueError(f"{bad} of {len(samples)} samples are not finite (NaN or inf)")
    samples = samples.double()
    w1s, kss = [], []
    for u in slice_directions(task):
        proj, sub = samples @ u[:, None], projected(task, u[:, None])
        w1s.append(wasserstein1(proj, sub))
        kss.append(ks_statistic(proj, sub))
    resp = task.responsibilities(samples).mean(dim=0)
    threshold = GAP_LEVEL * _peak_density(task)
    true_var = (task.std() ** 2).sum()
    return dict(
        w1=sum(w1s) / len(w1s),
        ks=sum(kss) / len(kss),
        mode_mass_err=(resp - task.weights).abs().max().item(),
        gap_mass=(task.pdf(samples) < threshold).double().mean().item(),
        gap_mass_true=_gap_mass_true(_key(task)),
        std_ratio=math.sqrt(samples.var(dim=0).sum().item() / true_var.item()),
    )


@functools.lru_cache(maxsize=64)
def _noise_floor(task_key, n, num_draws):
    task = GaussianMixture(*task_key)
    runs = [evaluate(task.sample(n, torch.Generator().manual_seed(1000 + i)), task) for i in range(num_draws)]
    return {k: float(torch.tensor([r[k] for r in runs]).median()) for k in METRICS}


def noise_floor(task, n, *, num_draws=50):
    """What exact samples of size n score: the median of each metric over num_draws independent draws."""
    task = get_dataset(task)
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n}")
    return dict(_noise_floor(_key(task), int(n), num_draws))


def evaluate_seeds(sample_fn, task, *, n=10_000, seeds=range(5)):
    """Median of each metric over sampling seeds: sample_fn(n, seed) -> samples [n, D].

    At n = 10,000 the score of a single draw spreads about as widely as the noise floor itself (even a perfect
    sampler's seed-0 draw can score 2x the floor), so compare medians with medians.
    """
    runs = [evaluate(sample_fn(n, seed), task) for seed in seeds]
    return {k: float(torch.tensor([r[k] for r in runs]).median()) for k in METRICS}
