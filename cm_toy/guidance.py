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

import copy
import functools

import torch
from torch import nn

from .consistency import _finish, _noisy_gaussian, sampling_sigmas
from .data import get_dataset
from .edm import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN
from .losses import cd_loss, pseudo_huber, squared_l2
from .metrics import evaluate
from .networks import MLP, Precond
from .samplers import consistency_sampler
from .schedules import check_sigmas, cosine_decay
from .train import train

__all__ = [
    "Guided",
    "exact_guided_denoiser",
    "sample_labels",
    "class_prior_sample",
    "train_cd_conditional",
    "sample_consistency_conditional",
    "class_metrics",
]


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
    any, was distilled in; see train_cd_conditional). labels: an int (every row) or a tensor [n].
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
    x_T = _noisy_gaussian(
        noise, sigma_max, means.to(noise.device, noise.dtype)[k], stds.to(noise.device, noise.dtype)[k, None]
    )
    return torch.where((labels < K)[:, None], x_T, float(sigma_max) * noise)


# ----- conditional consistency distillation with a guided teacher -------------------------------------------------


# Pseudo-Huber c = 0.03, as train_cd. The levels are drawn uniformly (P_mean=None, Song et al. 2023, Algorithm 2):
# train_cd's log-normal levels did not help here (ring8_2D: better on fewer than half of the classes).
def train_cd_conditional(
    task,
    teacher,
    *,
    guidance=0.0,
    label_dropout=0.1,
    seed=0,
    steps=8000,
    batch_size=256,
    lr=8e-3,
    ema_decay=0.999,
    num_scales=40,
    target_decay=0.95,
    c=0.03,
    P_mean=None,
    P_std=2.0,
    init="teacher",
    hidden=128,
    depth=3,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    """Class-conditional consistency distillation (Song et al. 2023, Algorithm 2) of a guided teacher.

    The teacher's ODE step uses the guided denoiser D_w(x, sigma, c) (Ho & Salimans 2022, Eq. 6) with the batch's
    labels, so the student f(x, sigma, c) learns the guided PF-ODE of a fixed w in one step; labels dropped to "no
    label" (probability label_dropout) make the teacher unconditional (D_w = D there) and teach f the unconditional
    map too. teacher: a conditional EDM model (train_edm(task, conditional=True)) or "exact" (exact_guided_denoiser).
    The other arguments and defaults are train_cd's (c: the pseudo-Huber constant, None for squared L2), except the
    levels: drawn uniformly (P_mean=None) unless P_mean is given. Returns the EMA model with `.history`.
    """
    task = get_dataset(task)
    K = task.num_components
    if isinstance(teacher, str):
        if teacher != "exact":
            raise ValueError(f"unknown teacher {teacher!r}; valid choices: a conditional EDM model or 'exact'")
    elif not (isinstance(teacher, Precond) and not teacher.is_consistency and teacher.net.num_classes == K):
        raise ValueError(
            f"teacher must be a conditional EDM denoiser with num_classes = {K} "
            "(train_edm(task, conditional=True)) or 'exact'"
        )
    else:
        teacher = copy.deepcopy(teacher).requires_grad_(False)
    if init == "teacher":
        init = teacher if isinstance(teacher, Precond) else None
    elif init is not None and not isinstance(init, Precond):
        raise ValueError(f"unknown init {init!r}; valid choices: 'teacher', None, or a trained conditional Precond")
    if init is None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            net = MLP(task.dim, hidden, depth, num_classes=K)
        sigma_data = SIGMA_DATA
    else:
        net, sigma_data = copy.deepcopy(init.net), init.sigma_data
    model = Precond(
        net, sigma_data=sigma_data, sigma_min=sigma_min, class_means=task.means, class_stds=task.stds
    ).requires_grad_(True)
    target = copy.deepcopy(model).requires_grad_(False)
    distance = squared_l2 if c is None else functools.partial(pseudo_huber, c=c)

    def loss(student, x0, *, step, generator, labels):
        if isinstance(teacher, str):
            guided = exact_guided_denoiser(task, labels, guidance)
        else:
            guided = Guided(teacher, labels, guidance, n=len(x0))
        return cd_loss(
            student,
            x0,
            step=step,
            generator=generator,
            labels=labels,
            teacher=guided,
            target=target,
            num_scales=num_scales,
            sigma_min=sigma_min,
            sigma_max=sigma_max,
            rho=rho,
            distance=distance,
            P_mean=P_mean,
            P_std=P_std,
        )

    result = train(
        model,
        loss,
        task,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        target=target,
        target_decay=lambda step: target_decay,
        lr_schedule=cosine_decay(steps),
        conditional=True,
        label_dropout=label_dropout,
        seed=seed,
        progress=progress,
        desc="CD (conditional)",
    )
    return _finish(result)


def sample_consistency_conditional(model, n, labels, *, num_steps=1, sigmas=None, seed=0, class_prior=True):
    """n samples of the given labels (an int or [n]; None: unconditional) from a conditional consistency model
    (Song et al. 2023, Algorithm 1); the levels are consistency.sampling_sigmas(num_steps) unless given.

    class_prior: start class k at x_T ~ N(mu_k, T^2 + s_k^2), the noisy class itself (class_prior_sample; T =
    sigmas[0]), instead of N(0, T^2), which shifts class k by about -mu_k s_k / T. Both starts are measured per class
    in benchmarks/results/conditional.md; where a student's class already sits too far out, N(0, T^2)'s inward offset
    hides part of it. False: N(0, T^2) for every class.
    """
    if not (isinstance(model, Precond) and model.is_consistency):
        raise TypeError("model must be a consistency model (from train_cd_conditional)")
    device = next(model.parameters()).device
    if sigmas is None:
        sigmas = sampling_sigmas(num_steps)
    else:
        sigmas = check_sigmas(torch.as_tensor(sigmas, dtype=torch.float32), model.sigma_min, SIGMA_MAX)
    guided = Guided(model, labels, 0.0, n=int(n))
    generator = torch.Generator(device).manual_seed(seed)
    noise = torch.randn(int(n), model.net.dim, generator=generator, device=device)
    if class_prior:
        noise = class_prior_sample(model, guided.labels, noise, sigmas[0].item()) / sigmas[0].item()
    return consistency_sampler(guided, noise, sigmas.to(device), generator=generator)


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
