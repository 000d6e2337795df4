"""Class-conditional generation and classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598).

One network learns both the conditional denoiser D(x, sigma, c) and the unconditional one D(x, sigma, null): during
training the label is replaced by the "no label" class with probability p_uncond (train_edm(..., conditional=True)).
At sampling time the guided denoiser extrapolates from the unconditional towards the conditional prediction,

    D_w(x, sigma, c) = D(x, sigma, c) + w (D(x, sigma, c) - D(x, sigma, null))          (Ho & Salimans 2022, Eq. 6)

written for the denoiser instead of the noise prediction eps = (x - D) / sigma; both are affine in D, so the two forms
are the same. w = 0 is plain conditional sampling; w > 0 follows grad log p(x | c) + w grad log p(c | x), which pushes
samples away from the other classes. For a Gaussian mixture every piece is exact: the conditional of class k is the
k-th component, so `exact_guided_denoiser` gives the guided denoiser with no model error.
"""

import torch
from torch import nn

from .data import get_dataset
from .metrics import evaluate
from .samplers import gaussian_start
from .schedules import SIGMA_MAX

__all__ = ["Guided", "exact_guided_denoiser", "sample_labels", "class_prior_sample", "class_metrics"]


def _labels(labels, n, num_classes, device):
    """Labels as a long tensor [n]: an int gives every sample that class; num_classes is the "no label" class."""
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long, device=device)
    labels = torch.as_tensor(labels, device=device)
    if labels.dim() != 1 or (n is not None and len(labels) != n):
        raise ValueError(
            f"labels must be an int or a 1D tensor with one label per sample ({n}), got shape {list(labels.shape)}"
        )
    if labels.dtype not in (torch.int32, torch.int64) or labels.min() < 0 or labels.max() > num_classes:
        raise ValueError(
            f"labels must be integers in 0..{num_classes - 1} (or {num_classes}, 'no label'), "
            f"got values {labels.min().item()}..{labels.max().item()}"
        )
    return labels.long()


# Classifier-free guidance (Ho & Salimans 2022, Eq. 6), denoiser form.
def _guide(conditional, unconditional, w):
    return conditional + w * (conditional - unconditional)


class Guided(nn.Module):
    """A class-conditional Precond with its labels (and a guidance strength w) bound: callable as model(x, sigma).

    D_w(x, sigma) = D(x, sigma, c) + w (D(x, sigma, c) - D(x, sigma, null)); w = 0 costs one network call, w != 0 two.
    Works for an EDM denoiser and, with w = 0, to bind labels to a conditional consistency model (its guidance, if
    any, was distilled in; see distillation.train_cd_conditional). labels: an int (every row) or a tensor [n].
    """

    def __init__(self, model, labels, guidance=0.0, *, n=None):
        super().__init__()
        num_classes = getattr(getattr(model, "net", None), "num_classes", 0)
        if not num_classes:
            raise ValueError("model is not class-conditional; train it with train_edm(task, conditional=True)")
        device = next(model.parameters()).device
        if labels is None:
            labels = num_classes  # unconditional: the "no label" class
        if guidance != 0 and getattr(model, "is_consistency", False):
            raise ValueError(
                "guidance on a consistency model is not defined here; distill it into the model with "
                "train_cd_conditional(..., guidance=w) and sample with guidance=0"
            )
        self.model, self.guidance = model, float(guidance)
        self.labels = _labels(labels, n, num_classes, device)
        self.null = torch.full_like(self.labels, num_classes)

    # What the samplers read from a model.
    sigma_min = property(lambda self: self.model.sigma_min)
    sigma_data = property(lambda self: self.model.sigma_data)
    net = property(lambda self: self.model.net)
    is_consistency = property(lambda self: self.model.is_consistency)

    def forward(self, x, sigma):
        conditional = self.model(x, sigma, self.labels)
        if self.guidance == 0:
            return conditional
        return _guide(conditional, self.model(x, sigma, self.null), self.guidance)


def exact_guided_denoiser(task, labels, guidance=0.0):
    """The guided denoiser of the mixture itself, D_w(x, sigma) for labels [n] (or an int); float64 inside.

    The conditional of class k is component k, whose denoiser is mu_k + s_k^2 / (s_k^2 + sigma^2) (x - mu_k); the
    unconditional one is task.denoise. Label num_components means "no label" (unconditional).
    """
    task = get_dataset(task)
    K = task.num_components

    def denoise(x, sigma):
        c = _labels(labels, len(x), K, x.device)
        s2 = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1, 1) ** 2
        unconditional = task.denoise(x, sigma).double()
        k = c.clamp_max(K - 1)
        mu, var = task.means.to(x.device)[k], task.stds.to(x.device)[k, None] ** 2
        conditional = torch.where((c < K)[:, None], mu + var / (var + s2) * (x.double() - mu), unconditional)
        return _guide(conditional, unconditional, guidance).to(x.dtype)

    return denoise


def sample_labels(task, n, *, seed=0):
    """n labels drawn with the mixture's weights (so conditional samples of all classes together follow the task)."""
    task = get_dataset(task)
    return torch.multinomial(
        task.weights.float(), int(n), replacement=True, generator=torch.Generator().manual_seed(seed)
    )


# ----- where conditional sampling starts --------------------------------------------------------------------------


def _class_gaussians(classes):
    """(means [K, D], stds [K]) of a task (a name or GaussianMixture) or of a model that stores its classes."""
    if isinstance(classes, nn.Module):
        model = getattr(classes, "model", classes)  # a Guided wrapper reads through to its model
        if getattr(model, "class_means", None) is None:
            raise ValueError(
                "this model does not store its classes' means and stds (train_edm(task, conditional=True) "
                "and train_cd_conditional store them); pass class_prior=False to start every class from "
                "N(0, sigma_max^2), or build the start with class_prior_sample(task, ...)"
            )
        return model.class_means, model.class_stds
    task = get_dataset(classes)
    return task.means, task.stds


# The noisy class at sigma_max is one Gaussian. The PF-ODE's marginal at level sigma is the data convolved with
# N(0, sigma^2 I) (Karras et al. 2022, arXiv 2206.00364, Eq. 1): for class k, x_sigma = x_0 + sigma n with
# x_0 ~ N(mu_k, s_k^2 I) and n ~ N(0, I) independent, a sum of independent Gaussians, so x_sigma ~ N(mu_k,
# (s_k^2 + sigma^2) I) exactly. N(0, sigma_max^2 I) misses its mean by mu_k and its variance by s_k^2.
def class_prior_sample(classes, labels, noise, sigma_max=SIGMA_MAX):
    """The class-aware start of conditional sampling: x_T = mu_k + sqrt(sigma_max^2 + s_k^2) noise for a row of class
    k, exactly the noisy class at T = sigma_max; rows of the "no label" class (K) get sigma_max noise, the start an
    unconditional model assumes. [n, D], in noise's dtype and device.

    classes: a task (name or GaussianMixture) or a conditional model that stores its classes (train_edm(task,
    conditional=True), train_cd_conditional). labels: an int or [n]. The samplers multiply their input by sigmas[0],
    so pass them class_prior_sample(...) / sigma_max.
    """
    means, stds = _class_gaussians(classes)
    K = len(stds)
    labels = _labels(labels, len(noise), K, noise.device)
    if not float(sigma_max) > 0:
        raise ValueError(f"sigma_max must be > 0, got {sigma_max}")
    k = labels.clamp_max(K - 1)  # "no label" rows are replaced below
    x_T = gaussian_start(
        noise, sigma_max, means.to(noise.device, noise.dtype)[k], stds.to(noise.device, noise.dtype)[k, None]
    )
    return torch.where((labels < K)[:, None], x_T, float(sigma_max) * noise)


# ----- measuring per-class samples -----------------------------------------------------------------------------------


def class_metrics(samples, k, task):
    """Quality of samples meant to be class k against the exact conditional (component k): w1, ks, std_ratio and
    gap_mass from evaluate(), plus `mean_shift` (sample mean minus mu_k, its norm in D > 1) and `on_class`, the mean
    exact posterior p(k | x) under the unconditional mixture (1 when no sample lies where another class is likely)."""
    task = get_dataset(task)
    out = evaluate(samples, task.component(k))
    del out["mode_mass_err"]  # always 0 against a single component
    shift = torch.as_tensor(samples).detach().cpu().double().mean(dim=0) - task.means[k]
    out["mean_shift"] = shift.item() if task.dim == 1 else shift.norm().item()
    out["on_class"] = task.responsibilities(torch.as_tensor(samples).detach().cpu().double())[:, k].mean().item()
    return out
