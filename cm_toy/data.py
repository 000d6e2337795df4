"""Toy tasks with exact ground truth: Gaussian mixtures and everything about them in closed form.

Adding Gaussian noise to a mixture of Gaussians gives another mixture of Gaussians, so the noisy marginal
p_sigma, its score and the ideal denoiser E[x0 | x0 + sigma * eps = x] are exact at every noise level.
"""

import math

import torch

__all__ = ["GaussianMixture", "get_dataset", "list_datasets", "register_dataset"]


class GaussianMixture:
    """A mixture of isotropic Gaussians in D dimensions, sum_k w_k N(mu_k, s_k^2 I).

    `means` is [K] (1D) or [K, D]; `stds` is [K]. Every method takes x of shape [n, D].
    """

    def __init__(self, weights, means, stds):
        weights = torch.as_tensor(weights, dtype=torch.float64)
        means = torch.as_tensor(means, dtype=torch.float64)
        stds = torch.as_tensor(stds, dtype=torch.float64)
        if means.dim() == 1:
            means = means[:, None]
        if weights.dim() != 1 or stds.dim() != 1 or means.dim() != 2:
            raise ValueError("weights and stds must be 1D lists of length K, means a list of K numbers or K points")
        if not (len(weights) == len(means) == len(stds)) or len(weights) == 0:
            raise ValueError(
                f"mismatched lengths: {len(weights)} weights, {len(means)} means, {len(stds)} stds; "
                "give one of each per component"
            )
        if (weights < 0).any() or abs(weights.sum().item() - 1.0) > 1e-6:
            raise ValueError(f"weights must be non-negative and sum to 1, got {weights.tolist()}")
        if (stds <= 0).any():
            raise ValueError(f"every std must be > 0, got {stds.tolist()}")
        self.weights, self.means, self.stds = weights, means, stds

    @property
    def dim(self):
        return self.means.shape[1]

    @property
    def num_components(self):
        return len(self.weights)

    def __repr__(self):
        w = [round(v, 3) for v in self.weights.tolist()]
        m = [[round(v, 3) for v in row] for row in self.means.tolist()]
        s = [round(v, 3) for v in self.stds.tolist()]
        return f"GaussianMixture(weights={w}, means={m if self.dim > 1 else [r[0] for r in m]}, stds={s})"

    # ----- moments ---------------------------------------------------------------------------------------------
    def mean(self):
        return self.weights @ self.means  # [D]

    def std(self):
        """Per-coordinate standard deviation of the mixture, [D]."""
        second = self.weights @ (self.means**2 + self.stds[:, None] ** 2)
        return (second - self.mean() ** 2).sqrt()

    # ----- sampling ----------------------------------------------------------------------------------------------
    def sample(self, n, generator=None, *, return_labels=False):
        """n exact samples, [n, D] (float32); with return_labels, also the component of each, [n]."""
        if int(n) != n or n < 1:
            raise ValueError(f"n must be a positive integer, got {n}")
        device = generator.device if generator is not None else "cpu"
        labels = torch.multinomial(self.weights.float().to(device), int(n), replacement=True, generator=generator)
        eps = torch.randn(int(n), self.dim, generator=generator, device=device)
        x = self.means.float().to(device)[labels] + self.stds.float().to(device)[labels, None] * eps
        return (x, labels) if return_labels else x

    # ----- the noisy marginal p_sigma = p_data * N(0, sigma^2 I) -----------------------------------------------
    def _check(self, x):
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape [n, {self.dim}], got {list(x.shape)}")

    def _sigma(self, x, sigma):
        sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device)
        if (sigma < 0).any():
            raise ValueError("sigma must be >= 0")
        return sigma.reshape(-1, 1) if sigma.dim() > 0 else sigma  # scalar or [n, 1]

    def component_log_prob(self, x, sigma=0.0):
        """log w_k + log N(x; mu_k, (s_k^2 + sigma^2) I), [n, K], in float64."""
        self._check(x)
        x64 = x.double()
        var = self.stds.to(x.device) ** 2 + self._sigma(x, sigma) ** 2  # [K] or [n, K]
        sq = torch.cdist(x64, self.means.to(x.device)) ** 2  # [n, K]
        log_norm = -0.5 * self.dim * torch.log(2 * math.pi * var)
        return torch.log(self.weights.to(x.device)) + log_norm - 0.5 * sq / var

    def log_prob(self, x, sigma=0.0):
        """log p_sigma(x), [n]."""
        return torch.logsumexp(self.component_log_prob(x, sigma), dim=1).to(x.dtype)

    def pdf(self, x, sigma=0.0):
        return self.log_prob(x, sigma).exp()

    def responsibilities(self, x, sigma=0.0):
        """p(k | x) under p_sigma, [n, K]."""
        return torch.softmax(self.component_log_prob(x, sigma), dim=1).to(x.dtype)

    def cdf(self, x, sigma=0.0):
        """P(X <= x) for a 1D mixture, [n]."""
        if self.dim != 1:
            raise ValueError(f"cdf is defined for 1D mixtures only; this one has dim {self.dim}")
        self._check(x)
        scale = (self.stds.to(x.device) ** 2 + self._sigma(x, sigma) ** 2).sqrt()
        z = (x.double() - self.means.to(x.device)[:, 0]) / scale
        return (self.weights.to(x.device) * 0.5 * torch.erfc(-z / math.sqrt(2))).sum(1).to(x.dtype)

    # Ideal denoiser: posterior mean of x0 given x = x0 + sigma * eps (Karras et al. 2022, Eq. 3 minimiser).
    def denoise(self, x, sigma):
        """E[x0 | x0 + sigma * eps = x], [n, D]; exact for every sigma >= 0."""
        r = self.responsibilities(x, sigma).double()  # [n, K]
        var = self.stds.to(x.device) ** 2
        s2 = self._sigma(x, sigma) ** 2
        gain = var / (var + s2)  # [K] or [n, K]: how much of x survives in each component's posterior mean
        mu = self.means.to(x.device)  # [K, D]
        x64 = x.double()[:, None, :]
        post = mu + gain[..., None] * (x64 - mu)  # [n, K, D]
        return (r[..., None] * post).sum(1).to(x.dtype)

    # Score of the noisy marginal via Tweedie: grad log p_sigma(x) = (D(x, sigma) - x) / sigma^2 (Karras 2022, Eq. 3).
    def score(self, x, sigma):
        s2 = self._sigma(x, sigma) ** 2
        if (s2 == 0).any():
            return self._score_clean(x)
        return ((self.denoise(x, sigma).double() - x.double()) / s2).to(x.dtype)

    def _score_clean(self, x):
        r = self.responsibilities(x).double()
        var = self.stds.to(x.device) ** 2
        comp = (self.means.to(x.device) - x.double()[:, None, :]) / var[:, None]
        return (r[..., None] * comp).sum(1).to(x.dtype)

    def component(self, k):
        """The k-th component as a one-component mixture (the exact conditional distribution given label k)."""
        return GaussianMixture([1.0], self.means[k : k + 1], self.stds[k : k + 1])


# ----- the registry of named tasks --------------------------------------------------------------------------------
_DATASETS = {}


def register_dataset(name, weights, means, stds, description=""):
    """Add a named task; `get_dataset(name)` then builds it."""
    GaussianMixture(weights, means, stds)  # validate now, not at first use
    _DATASETS[name] = (weights, means, stds, description)


def list_datasets():
    """Names of every registered task."""
    return sorted(_DATASETS)


def get_dataset(name):
    """A registered task by name, or a GaussianMixture passed through unchanged."""
    if isinstance(name, GaussianMixture):
        return name
    if name not in _DATASETS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(list_datasets())}")
    weights, means, stds, _ = _DATASETS[name]
    return GaussianMixture(weights, means, stds)


def describe_dataset(name):
    return _DATASETS[name][3] if name in _DATASETS else ""


# The four tasks of the original repository, with its parameters.
register_dataset("three_gmm_1D", [1 / 3, 1 / 3, 1 / 3], [-1.5, 0.0, 1.5], [0.2, 0.2, 0.2], "three equal modes")
register_dataset("two_gmm_1D", [0.5, 0.5], [-1.5, 1.5], [0.3, 0.3], "two equal modes")
register_dataset("uneven_two_gmm_1D", [0.7, 0.3], [-1.5, 1.5], [0.3, 0.2], "70/30 weights, unequal widths")
register_dataset("single_gaussian_1D", [1.0], [1.0], [0.2], "one narrow Gaussian away from zero")


# ----- more toy tasks (beyond the original's four) ----------------------------------------------------------------
# Each stresses one thing; positions and widths keep the per-coordinate standard deviation between 1.2 and 1.5, the
# scale the existing tasks have, so sigma_data = 1 (edm.SIGMA_DATA) still sits on the data's scale.


def _ring(num_modes, radius):
    angles = [2 * math.pi * k / num_modes for k in range(num_modes)]
    return [[radius * math.cos(a), radius * math.sin(a)] for a in angles]


def _grid(side, spacing):
    ticks = [spacing * (i - (side - 1) / 2) for i in range(side)]
    return [[a, b] for a in ticks for b in ticks]


# Many modes: seven equal, narrow modes 0.75 apart (9 standard deviations); mixture std 1.5.
register_dataset(
    "many_modes_1D", [1 / 7] * 7, [0.75 * (k - 3) for k in range(7)], [0.08] * 7, "seven equal narrow modes, 0.75 apart"
)
# Modes of very different widths: a wide mode next to a narrow and a very narrow one (std 0.5 / 0.1 / 0.03, ratio
# 17); mixture std 1.23. The very narrow mode tests how well a model resolves small scales at low sigma.
register_dataset(
    "wide_narrow_1D",
    [0.4, 0.3, 0.3],
    [-1.2, 0.6, 1.6],
    [0.5, 0.1, 0.03],
    "modes of very different widths (std 0.5, 0.1, 0.03)",
)
# Far-apart modes with rare mass: 90% near -1, 8% at 3 and 2% at 6 (7 units = 17 std away); mixture std 1.46. A
# sampler that loses the rare far modes pays W1 ~ 0.02 * 7 = 0.14 for the last one alone, ten times the noise floor.
register_dataset(
    "rare_far_1D",
    [0.9, 0.08, 0.02],
    [-1.0, 3.0, 6.0],
    [0.4, 0.3, 0.3],
    "a main mode and two far-away rare ones (8% and 2%)",
)
# A ring of 8 equal Gaussians of std 0.15 on the circle of radius 2 (neighbours 1.53 = 10 std apart); per-coordinate
# std 1.42.
register_dataset("ring8_2D", [1 / 8] * 8, _ring(8, 2.0), [0.15] * 8, "ring of 8 Gaussians, radius 2, std 0.15")
# A 5 x 5 grid of equal Gaussians of std 0.1, spacing 1, centred at 0; per-coordinate std 1.42.
register_dataset("grid25_2D", [1 / 25] * 25, _grid(5, 1.0), [0.1] * 25, "5 x 5 grid of Gaussians, spacing 1, std 0.1")
