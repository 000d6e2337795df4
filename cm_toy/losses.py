"""Training objectives. Each is a small function of the networks it needs and a batch of clean data x0, called by the
training loop as loss(model, x0, step=..., generator=..., labels=...) and returning one loss per sample, [B]."""

import functools

import torch

from .samplers import heun_step
from .schedules import consistency_sigmas, ect_r, lognormal_interval_probs, sample_lognormal_sigmas

__all__ = ["edm_loss", "squared_l2", "pseudo_huber", "batch_denoiser", "binned_reference", "batch_target"]
__all__ += ["sample_intervals", "teacher_walk", "cd_loss", "ct_loss", "ict_loss", "ect_loss"]


def _call(model, x, sigma, labels):
    return model(x, sigma) if labels is None else model(x, sigma, labels)


# EDM denoising loss lambda(sigma) ||D(x0 + sigma n, sigma) - x0||^2 (Karras et al. 2022, Eq. 2 and Table 1).
def edm_loss(model, x0, *, step=None, generator=None, labels=None, P_mean=-1.2, P_std=1.2, reference_batch=False):
    """reference_batch: regress on batch_denoiser(x, sigma, x0) instead of x0 (stable target field, below)."""
    sigma = sample_lognormal_sigmas(len(x0), P_mean, P_std, generator=generator, device=x0.device)[:, None]
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    weight = (sigma**2 + model.sigma_data**2) / (sigma * model.sigma_data) ** 2
    x = x0 + sigma * noise
    null_label = getattr(model.net, "num_classes", None) if labels is not None else None
    target = batch_target(x, sigma, x0, labels, null_label) if reference_batch else x0
    return (weight * (_call(model, x, sigma, labels) - target) ** 2).mean(dim=1)


# ----- consistency objectives ------------------------------------------------------------------------------------
# The consistency model f sits at the higher level sigma_{n+1}; its target is a (stop-gradient) copy of f at the lower
# level sigma_n, evaluated where one ODE step from x_{n+1} lands: a teacher's Heun step (distillation, CD), or
# x0 + sigma_n z with the same noise z (training, CT, whose one-sample "teacher" is an Euler step with the score
# -(x - x0) / sigma^2). Song et al. 2023, arXiv 2303.01469, Eq. 7 (CD) and Eq. 10 (CT).


def squared_l2(a, b):
    """||a - b||^2 per sample, [B]."""
    return ((a - b) ** 2).sum(dim=1)


# Pseudo-Huber metric sqrt(||a - b||^2 + c^2) - c (Song & Dhariwal 2023, arXiv 2310.14189, Sec. 3.3).
def pseudo_huber(a, b, c):
    """~ ||a - b||^2 / (2 c) for differences well below c, ~ ||a - b|| above it; per sample, [B]."""
    return (((a - b) ** 2).sum(dim=1) + c**2).sqrt() - c


# Reference-batch denoiser (the target of the stable target field objective, Xu et al. 2023, arXiv 2302.00670; used
# for consistency training by Stable Consistency Tuning, Wang et al. 2024, arXiv 2410.18958): E[x0 | x] by
# self-normalised weights w_j ~ N(x; x0_j, sigma^2 I) over a batch that contains x's own clean point. Small sigma:
# w -> its own x0 (the one-sample CT target); large sigma: the batch mean. Consistent as the batch grows, with far
# less variance.
def batch_denoiser(x, sigma, x_ref, allowed=None, counts=None):
    """x [..., B, D], x_i made from x_ref[..., i, :]; sigma [..., B, 1]; x_ref [..., R, D], R >= B. Returns [..., B, D].

    allowed: optional bool [..., B, R], which reference points may explain x_i (True on the diagonal: its own).
    counts: optional [R], how many samples each reference point stands for (binned_reference); x is then any batch."""
    log_w = -((x[..., :, None, :] - x_ref[..., None, :, :]) ** 2).sum(dim=-1) / (2 * sigma**2)
    if allowed is not None:
        log_w = log_w.masked_fill(~allowed, float("-inf"))
    if counts is not None:
        log_w = log_w + counts.log()
    return log_w.softmax(dim=-1) @ x_ref


# A reference far larger than a batch at a batch's cost: M clean samples, merged per cell of a grid of side bin_width
# into one point at their mean, weighted by their count. batch_denoiser over these K points is the denoiser of the M
# samples' empirical distribution up to the spread inside a cell (relative error ~ (bin_width / sigma)^2); K is the
# number of occupied cells (a few hundred for the 1D tasks at bin_width 0.02), not M.
def binned_reference(x_ref, bin_width):
    """x_ref [M, D] -> (points [K, D], counts [K]): the occupied cells' means and how many samples each holds."""
    if not bin_width > 0:
        raise ValueError(f"bin_width must be > 0, got {bin_width}")
    cells = torch.floor(x_ref / bin_width).long()
    cells = cells - cells.min(dim=0).values
    extent = cells.max(dim=0).values + 1
    if extent.double().prod() >= 2**62:
        raise ValueError(f"bin_width {bin_width} gives {extent.tolist()} cells per coordinate, too many to number")
    strides = torch.cat([extent.new_ones(1), extent[:-1].cumprod(0)])
    # one integer per cell: a flat unique is ~40x faster than torch.unique(dim=0) on a million rows
    _, index, counts = torch.unique((cells * strides).sum(dim=1), return_inverse=True, return_counts=True)
    sums = torch.zeros(len(counts), x_ref.shape[1], dtype=x_ref.dtype, device=x_ref.device).index_add_(0, index, x_ref)
    return sums / counts[:, None], counts.to(x_ref.dtype)


REFERENCE_SIZE = 256  # batches are split into groups of this many, each its own reference: cost B * 256, not B^2


def batch_target(x, sigma, x0, labels=None, null_label=None):
    """batch_denoiser of x [B, D] (row i made from x0[i]) over its group of the batch, without grad. With labels, a
    labelled point is explained only by points of its own class, E[x0 | x, c]; a point whose label was dropped
    (null_label) by all of them, E[x0 | x]."""
    if labels is not None and null_label is None:
        raise ValueError(
            "reference_batch=True with labels needs the model's 'no label' class; it is supported by "
            "edm_loss (conditional EDM), not by the consistency losses"
        )
    groups = len(x0) // REFERENCE_SIZE if len(x0) % REFERENCE_SIZE == 0 else 1
    shape = (groups, len(x0) // groups, -1)
    allowed = None
    if labels is not None:
        c = labels.view(groups, -1)
        allowed = (c[:, :, None] == c[:, None, :]) | (c[:, :, None] == null_label)
    with torch.no_grad():
        return batch_denoiser(x.view(shape), sigma.view(shape), x0.view(shape), allowed).view(x0.shape)


# CT's "teacher" step from x_t = x0 + t z down to level s: an Euler step of the PF-ODE, x_t + (s - t) (x_t - D) / t.
# With the one-sample D = x0 it lands exactly at x0 + s z (Song et al. 2023, Eq. 10); reference_batch uses the
# batch's estimate D = batch_denoiser(x_t, t, batch) instead.
def _ct_step(x0, z, t, s, labels, reference_batch):
    if not reference_batch:
        return x0 + s * z
    x_t = x0 + t * z
    return x_t + (s - t) * (x_t - batch_target(x_t, t, x0, labels)) / t


def _resolve(value, step):
    return value(step) if callable(value) else value


# Which interval [t_n, t_{n+1}] of the increasing grid each sample trains: uniform over the N - 1 intervals (Song et
# al. 2023, Algorithms 2 and 3) when P_mean is None, else iCT's discretised log-normal (Song & Dhariwal 2023,
# arXiv 2310.14189, Sec. 3.5; schedules.lognormal_interval_probs).
def sample_intervals(sigmas, n, generator, P_mean=None, P_std=2.0):
    """n interval indices i (training the pair sigmas[i] < sigmas[i + 1]) of an increasing grid, [n]."""
    if P_mean is None:
        return torch.randint(0, len(sigmas) - 1, (n,), generator=generator, device=sigmas.device)
    probs = lognormal_interval_probs(sigmas, P_mean, P_std).to(sigmas)
    return torch.multinomial(probs, n, replacement=True, generator=generator)


# The teacher's way down from t_{n+1} to t_{n+1-span}: one Heun step per level of the grid (samplers.heun_step, the
# sampler's own step), stopping at sigma_min. span = 1 is Song et al. 2023's single step; span > 1 skips levels as
# Latent Consistency Models' skipping-step distillation (Luo et al. 2023, arXiv 2310.04378, Sec. 4.3) does, but
# walks the skipped levels with the teacher instead of one large step: the target network is then asked about a level
# span levels down, so the jumps of f climb the grid through span times fewer bootstraps.
def teacher_walk(teacher, x, sigmas, upper, span):
    """x at sigmas[upper] ([B] indices) -> (x at sigmas[lower], sigmas[lower] [B, 1]), lower = max(upper - span, 0)."""
    if int(span) != span or span < 1:
        raise ValueError(f"span must be an integer >= 1 (levels per target), got {span}")
    lower = (upper - span).clamp_min(0)
    level = upper
    for _ in range(span):
        below = torch.maximum(level - 1, lower)  # samples already at `lower` take a step of length 0: x unchanged
        x = heun_step(teacher, x, sigmas[level][:, None], sigmas[below][:, None])
        level = below
    return x, sigmas[lower][:, None]


# Consistency distillation (Song et al. 2023, Algorithm 2 and Eq. 7): n ~ U{1, ..., N-1}, x_{n+1} = x0 + t_{n+1} z,
# x_hat_n = one Heun step of the teacher's PF-ODE from t_{n+1} to t_n,
# loss d(f(x_{n+1}, t_{n+1}), f_target(x_hat_n, t_n)).
def cd_loss(
    model,
    x0,
    *,
    step=None,
    generator=None,
    labels=None,
    teacher,
    target,
    num_scales=18,
    sigma_min=0.002,
    sigma_max=80.0,
    rho=7.0,
    distance=squared_l2,
    P_mean=None,
    P_std=2.0,
    span=1,
):
    """teacher: a denoiser D(x, sigma [B, 1]); target: the target network (EMA of model, or model itself for mu = 0).

    P_mean, P_std: None draws n uniformly (the paper); numbers draw the interval from iCT's discretised log-normal.
    span: levels the teacher walks down (one Heun step each) before the target network is asked; 1 is the paper."""
    sigmas = consistency_sigmas(_resolve(num_scales, step), sigma_min, sigma_max, rho).to(x0)
    upper = sample_intervals(sigmas, len(x0), generator, P_mean, P_std) + 1
    z = torch.randn(x0.shape, generator=generator, device=x0.device)
    t_next = sigmas[upper][:, None]
    x_next = x0 + t_next * z
    with torch.no_grad():
        x_hat, t_n = teacher_walk(teacher, x_next, sigmas, upper, span)
        y = _call(target, x_hat, t_n, labels)
    return distance(_call(model, x_next, t_next, labels), y)


# Consistency training (Song et al. 2023, Algorithm 3 and Eq. 10): as cd_loss with x_hat_n = x0 + t_n z.
def ct_loss(
    model,
    x0,
    *,
    step=None,
    generator=None,
    labels=None,
    target,
    num_scales,
    sigma_min=0.002,
    sigma_max=80.0,
    rho=7.0,
    distance=squared_l2,
    reference_batch=False,
    P_mean=None,
    P_std=2.0,
):
    """num_scales: N, or a function of the step (the curriculum N(k)); target: the target network.

    reference_batch: True replaces x0 + t_n z by a Heun step (the sampler's and cd_loss's step) of the PF-ODE whose
    denoiser is batch_denoiser over the batch (the stable target field): no trained teacher, far less variance.
    P_mean, P_std: as for cd_loss."""
    sigmas = consistency_sigmas(_resolve(num_scales, step), sigma_min, sigma_max, rho).to(x0)
    upper = sample_intervals(sigmas, len(x0), generator, P_mean, P_std) + 1
    z = torch.randn(x0.shape, generator=generator, device=x0.device)
    t_next = sigmas[upper][:, None]
    x_next = x0 + t_next * z
    with torch.no_grad():
        if reference_batch:
            teacher = lambda x, sigma: batch_target(x, sigma.expand(len(x), 1), x0, labels)  # noqa: E731
            x_hat, t_n = teacher_walk(teacher, x_next, sigmas, upper, 1)
        else:
            t_n = sigmas[upper - 1][:, None]
            x_hat = x0 + t_n * z
        y = _call(target, x_hat, t_n, labels)
    return distance(_call(model, x_next, t_next, labels), y)


# Improved consistency training (Song & Dhariwal 2023, arXiv 2310.14189, Sec. 3): the target is the student itself
# under stop-gradient (no target EMA), levels are drawn from a discretised log-normal, the pseudo-Huber metric is
# weighted by lambda(t_n) = 1 / (t_{n+1} - t_n).
def ict_loss(
    model,
    x0,
    *,
    step=None,
    generator=None,
    labels=None,
    num_scales,
    P_mean=-1.1,
    P_std=2.0,
    c=0.03,
    sigma_min=0.002,
    sigma_max=80.0,
    rho=7.0,
):
    sigmas = consistency_sigmas(_resolve(num_scales, step), sigma_min, sigma_max, rho).to(x0)
    i = sample_intervals(sigmas, len(x0), generator, P_mean, P_std)
    t_n, t_next = sigmas[i][:, None], sigmas[i + 1][:, None]
    z = torch.randn(x0.shape, generator=generator, device=x0.device)
    with torch.no_grad():
        y = _call(model, x0 + t_n * z, t_n, labels)
    distance = squared_l2 if c is None else functools.partial(pseudo_huber, c=c)
    return distance(_call(model, x0 + t_next * z, t_next, labels), y) / (t_next - t_n)[:, 0]


# Easy consistency tuning (Geng et al. 2024, arXiv 2406.14548, Sec. 3): t ~ log-normal, r = r(t, stage) < t from the
# shrinking mapping (schedules.ect_r), stop-gradient target f(x0 + r z, r) (x0 itself once r reaches sigma_min),
# loss d(f(x0 + t z, t), target) / (t - r).
def ect_loss(
    model,
    x0,
    *,
    step=None,
    generator=None,
    labels=None,
    stage,
    P_mean=-1.1,
    P_std=2.0,
    c=0.0,
    q=2.0,
    k=8.0,
    b=1.0,
    sigma_min=0.002,
    sigma_max=80.0,
    reference_batch=False,
):
    """stage: the stage s, or a function of the step; c = 0 is the paper's plain L2 norm, c > 0 pseudo-Huber, None the
    squared L2 distance.

    reference_batch: False, the one-sample target x0 + r z; True, an Euler step from t to r with batch_denoiser over
    the batch (variance-reduced CT, as in Stable Consistency Tuning); needs labels None."""
    t = sample_lognormal_sigmas(len(x0), P_mean, P_std, generator=generator, device=x0.device)
    t = t.clamp(2 * sigma_min, sigma_max)[:, None]
    r = ect_r(t, _resolve(stage, step), q, k, b).clamp_min(sigma_min)
    z = torch.randn(x0.shape, generator=generator, device=x0.device)
    with torch.no_grad():
        x_r = _ct_step(x0, z, t, r, labels, reference_batch)
        y = _call(model, x_r, r, labels)  # f(x, sigma_min) = x exactly: the clean-data target
    distance = squared_l2 if c is None else functools.partial(pseudo_huber, c=c)
    return distance(_call(model, x0 + t * z, t, labels), y) / (t - r)[:, 0]
