"""Why multistep consistency sampling drifts: the original toy repository's setting rebuilt from cm_toy parts, a
multistep sampler that takes any consistency function (learned f or the exact f*), and diagnostics of where along
the noise levels the learned f departs from f*."""

import functools

import torch

from .data import get_dataset
from .exact import ExactConsistency
from .losses import cd_loss, ct_loss, edm_loss, squared_l2
from .networks import MLP, Precond
from .schedules import cosine_decay, karras_sigmas, sampling_sigmas, song2023_num_scales
from .train import train

__all__ = ["ORIGINAL", "GRIDS", "multistep_grid", "mode_positions", "linear_sigmas", "original_model", "train_original"]
__all__ += ["bias_profile", "contraction_profile"]

# The original repository's settings (mbreuss/consistency_models_toy_task, cm_main.py and cm/cm.py at c5ecf25):
# sigma range [0.05, 1], sigma_data 0.5, a fixed Karras grid of 100 levels for CT, target EMA 0.95, plain MSE,
# Gaussian Fourier features of scale 30 for the noise level, 4 hidden layers of 128, sampling from noise of
# std 1.5 sigma_max = 1.5, multistep over 20 linearly spaced levels. Noise of std 1.5 at sigma_max = 1 is
# N(0, sigma_max^2 + start_std^2) with start_std = sqrt(1.25): sample_consistency's start for data of that std.
ORIGINAL = dict(
    sigma_min=0.05,
    sigma_max=1.0,
    sigma_data=0.5,
    start_std=1.25**0.5,
    num_scales=100,
    target_decay=0.95,
    fourier_scale=30.0,
    depth=4,
    multistep_levels=20,
)


def linear_sigmas(num_steps, sigma_min=ORIGINAL["sigma_min"], sigma_max=ORIGINAL["sigma_max"]):
    """num_steps levels spaced linearly from sigma_max towards sigma_min: linspace(sigma_max, sigma_min,
    num_steps + 1) without its last level. The original's grid of 20 levels is linear_sigmas(19) followed by
    sigma_min itself, a no-op (it adds no noise and f(x, sigma_min) = x), so it makes 19 noisy steps."""
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    return torch.linspace(float(sigma_max), float(sigma_min), int(num_steps) + 1)[:-1]


GRIDS = ("linear", "karras", "high")


def multistep_grid(
    kind, num_steps, sigma_min=ORIGINAL["sigma_min"], sigma_max=ORIGINAL["sigma_max"], *, high=0.8, low=0.3
):
    """num_steps levels starting at sigma_max for the multistep sampler, of one kind:

    "linear": evenly spaced towards sigma_min (the original's); "karras": the rho = 7 grid of Karras et al. 2022 (Eq. 5)
    from sigma_max to sigma_min, without its last level; "high": cm_toy.sampling_sigmas with bounds high and low:
    sigma_max, then levels geometric from `high` down to `low`, only at or above the modes' width.
    """
    if kind not in GRIDS:
        raise ValueError(f"unknown grid {kind!r}; valid choices: {', '.join(GRIDS)}")
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    if kind == "linear":
        return linear_sigmas(num_steps, sigma_min, sigma_max)
    if kind == "karras":
        return karras_sigmas(int(num_steps) + 1, sigma_min, sigma_max)[:-1]
    if num_steps > 1 and not sigma_min <= low:
        raise ValueError(f"need sigma_min <= low, got {sigma_min}, {low}")
    return sampling_sigmas(num_steps, sigma_max=sigma_max, sigma_high=high, sigma_low=low)


def mode_positions(samples, task):
    """Where the samples put each mode: the mean of the samples nearest to each component's mean, [K] (1D tasks)."""
    task = get_dataset(task)
    means = task.means[:, 0].float()
    x = torch.as_tensor(samples, dtype=torch.float32)[:, 0]
    nearest = (x[:, None] - means[None]).abs().argmin(dim=1)
    return torch.stack(
        [x[nearest == k].mean() if (nearest == k).any() else torch.tensor(float("nan")) for k in range(len(means))]
    )


def original_model(
    *,
    embedding="fourier",
    fourier_scale=ORIGINAL["fourier_scale"],
    depth=ORIGINAL["depth"],
    hidden=128,
    sigma_data=ORIGINAL["sigma_data"],
    sigma_min=ORIGINAL["sigma_min"],
    seed=0,
):
    """A fresh consistency function f = Precond(MLP) with the original's network settings (embedding choosable)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = MLP(1, hidden, depth, embedding=embedding, fourier_scale=fourier_scale, x_features=0)  # x alone
    return Precond(net, sigma_data=sigma_data, sigma_min=sigma_min)


def train_original(
    task,
    *,
    seed=0,
    steps=3000,
    batch_size=1024,
    lr=1e-3,
    num_scales=ORIGINAL["num_scales"],
    curriculum=False,
    s0=10,
    target_decay=ORIGINAL["target_decay"],
    teacher=None,
    pretrain_steps=0,
    embedding="fourier",
    fourier_scale=ORIGINAL["fourier_scale"],
    depth=ORIGINAL["depth"],
    sigma_data=ORIGINAL["sigma_data"],
    sigma_min=ORIGINAL["sigma_min"],
    sigma_max=ORIGINAL["sigma_max"],
    rho=7.0,
    progress=True,
):
    """Consistency training (Song et al. 2023, Algorithm 3, squared L2) in the original's setting; every setting can
    be changed one at a time. Returns a TrainResult.

    num_scales: the fixed number of levels N (the original: 100); curriculum=True grows N from s0 to num_scales with
    Song et al.'s N(k) (Appendix C) instead. target_decay: the target network's EMA mu (0: the student under
    stop-gradient). teacher: None for CT; a denoiser D(x, sigma [B, 1]) for distillation (Algorithm 2) on the same grid.
    pretrain_steps > 0 first trains the same network as an EDM denoiser (the original's diffusion pretraining).
    """
    task = get_dataset(task)
    model = original_model(
        embedding=embedding,
        fourier_scale=fourier_scale,
        depth=depth,
        sigma_data=sigma_data,
        sigma_min=sigma_min,
        seed=seed,
    ).requires_grad_(True)
    if pretrain_steps:  # the denoiser shares the network with f, so f starts from the pretrained weights
        denoiser = Precond(model.net, sigma_data=sigma_data)
        train(
            denoiser,
            edm_loss,
            task,
            steps=pretrain_steps,
            batch_size=batch_size,
            lr=lr,
            lr_schedule=cosine_decay(pretrain_steps),
            seed=seed + 1,
            progress=progress,
            desc="EDM pretraining",
        )
    scales = (
        functools.partial(song2023_num_scales, total_steps=steps, s0=s0, s1=num_scales - 1)
        if curriculum
        else num_scales
    )
    grid = dict(num_scales=scales, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, distance=squared_l2)
    loss = (
        functools.partial(ct_loss, **grid) if teacher is None else functools.partial(cd_loss, teacher=teacher, **grid)
    )
    return train(
        model,
        loss,
        task,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        target_decay=target_decay,
        lr_schedule=cosine_decay(steps),
        seed=seed,
        progress=progress,
        desc="CT (original setting)" if teacher is None else "CD (original setting)",
    )


# ----- diagnostics ------------------------------------------------------------------------------------------------


@torch.no_grad()
def bias_profile(f, task, sigmas, *, n=4000, seed=0, sigma_min=None, f_star=None):
    """Where the sampler uses f: at each level sigma, x = y + sqrt(sigma^2 - sigma_min^2) z with y ~ p_sigma_min
    (exactly what Algorithm 1 feeds f when the previous step was perfect). Returns a dict of [len(sigmas)] tensors:

    outward: E[(f - f*) sign(f* - mean)], the mean signed error away from the data mean (> 0 pushes outward);
    rms: sqrt(E[(f - f*)^2]); spread: std(f(x, sigma)) / std(f*(x, sigma)), the one-step inflation of the spread.
    """
    task = get_dataset(task)
    sigma_min = f.sigma_min if sigma_min is None else sigma_min
    f_star = ExactConsistency(task, sigma_min) if f_star is None else f_star
    generator = torch.Generator().manual_seed(seed)
    y = task.sample(n, generator) + sigma_min * torch.randn(n, 1, generator=generator)
    z = torch.randn(n, 1, generator=generator)
    mean = task.mean().float()
    out = dict(outward=[], rms=[], spread=[])
    for sigma in torch.as_tensor(sigmas, dtype=torch.float32):
        x = y + (sigma**2 - sigma_min**2).clamp_min(0).sqrt() * z
        a, b = f(x, sigma), f_star(x, sigma)
        err = a - b
        out["outward"].append((err * (b - mean).sign()).mean())
        out["rms"].append(err.pow(2).mean().sqrt())
        out["spread"].append(a.std() / b.std())
    return {k: torch.stack(v) for k, v in out.items()}


@torch.no_grad()
def contraction_profile(task, sigmas, *, sigma_min, n=4000, seed=0, eps=1e-3):
    """How much of an error in the previous sample survives one step at level sigma: E|d f*(x, sigma) / dx| over the
    inputs the sampler feeds (as in bias_profile), by central differences of the exact f*. Near 1: carried over
    unchanged; near 0: erased by the re-noising."""
    task = get_dataset(task)
    f_star = ExactConsistency(task, sigma_min)
    generator = torch.Generator().manual_seed(seed)
    y = task.sample(n, generator).double() + sigma_min * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    z = torch.randn(n, 1, generator=generator, dtype=torch.float64)
    out = []
    for sigma in torch.as_tensor(sigmas, dtype=torch.float64):
        x = y + (sigma**2 - sigma_min**2).clamp_min(0).sqrt() * z
        out.append(((f_star(x + eps, sigma) - f_star(x - eps, sigma)) / (2 * eps)).abs().mean())
    return torch.stack(out).float()
