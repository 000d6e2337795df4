"""Consistency models: the exact consistency function of a mixture, distillation (CD), discrete consistency training
(CT: Song 2023, iCT, ECT) and multistep sampling."""

import copy
import functools

import torch

from .data import get_dataset
from .edm import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, train_edm
from .losses import binned_reference, cd_loss, ct_loss, ect_loss, ict_loss, pseudo_huber, squared_l2
from .networks import MLP, Precond
from .samplers import consistency_sampler, heun_step
from .schedules import check_sigmas, cosine_decay, ict_num_scales, song2023_num_scales, song2023_target_decay
from .train import train

__all__ = [
    "exact_consistency",
    "sample_consistency",
    "sample_exact_consistency",
    "sampling_sigmas",
    "consistency_model",
    "train_cd",
    "train_ct",
    "RECIPES",
]

RECIPES = ("pool", "batch", "song2023", "ict", "ect")  # train_ct recipes; the first, "pool", is the default


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


# ----- sampling ------------------------------------------------------------------------------------------------------

# Multistep levels after sigma_max: geometric over [SAMPLING_SIGMA_LOW, SAMPLING_SIGMA_HIGH] (two steps: 0.55), around
# the modes' spacing and the data scale, where a step can still move samples between modes. No other bounds win on
# every task (benchmarks/results/drift.md, "Candidate levels for sampling_sigmas").
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


def _levels(num_steps, sigmas, sigma_min, sigma_max):
    """The sampling levels: sampling_sigmas(num_steps), or explicit sigmas checked against [sigma_min, sigma_max]."""
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    if sigmas is None:
        return sampling_sigmas(num_steps, sigma_max=sigma_max)
    sigmas = check_sigmas(torch.as_tensor(sigmas, dtype=torch.float32), sigma_min, sigma_max)
    if num_steps != 1 and num_steps != len(sigmas):
        raise ValueError(f"num_steps={num_steps} but {len(sigmas)} sigmas given; give one or the other")
    return sigmas


# Where the first step starts. Algorithm 1 of Song et al. 2023 draws x_T ~ N(0, T^2 I), but the noisy data at level T
# has mean m and per-coordinate variance T^2 + s^2 (Karras et al. 2022, arXiv 2206.00364, Eq. 1; m, s: the data's mean
# and std); matching them leaves an error of order T^-3. The paper's start stays the default, the matched one an
# argument: it helps the exact f* on tasks with m != 0, but a learned model's own offset can cancel part of the paper's
# (benchmarks/results/start.md, uneven_two_gmm_1D and single_gaussian_1D).
def _noisy_gaussian(noise, T, mean, std):
    """x_T = mean + sqrt(T^2 + std^2) noise: data N(mean, std^2 I) noised to level T, exactly (shared with
    guidance.class_prior_sample, which passes each row's class)."""
    return mean + (float(T) ** 2 + std**2).sqrt() * noise


def _start(noise, T, data_mean, data_std):
    """noise [n, D] turned into x_T / T for x_T ~ N(data_mean, (T^2 + data_std^2) I), the samplers' input."""
    mean = torch.as_tensor(data_mean, dtype=noise.dtype, device=noise.device)
    std = torch.as_tensor(data_std, dtype=noise.dtype, device=noise.device)
    for name, value in (("data_mean", mean), ("data_std", std)):
        if value.dim() > 1 or value.numel() not in (1, noise.shape[1]) or not torch.isfinite(value).all():
            raise ValueError(
                f"{name} must be a finite number or one per coordinate ({noise.shape[1]}), got {value.tolist()}"
            )
    if (std < 0).any():
        raise ValueError(f"data_std must be >= 0, got {std.tolist()}")
    return _noisy_gaussian(noise, T, mean, std) / float(T)


def sample_consistency(
    model,
    n,
    *,
    num_steps=1,
    sigmas=None,
    seed=0,
    sigma_max=SIGMA_MAX,
    data_mean=0.0,
    data_std=0.0,
    return_trajectory=False,
):
    """n samples from a consistency model with Algorithm 1 of Song et al. 2023; [n, D].

    One step evaluates f(x_T, T) at T = sigma_max. More steps re-noise to each next level tau and apply f again;
    without explicit `sigmas` the levels are `sampling_sigmas(num_steps)`. Explicit sigmas must be strictly
    decreasing inside [model.sigma_min, sigma_max]; they set the number of steps, and T = sigmas[0].
    data_mean, data_std: the data's mean and std (numbers or one per coordinate; for a task, task.mean() and
    task.std()): x_T ~ N(data_mean, (T^2 + data_std^2) I), the noisy data's own mean and variance. The defaults, 0
    and 0, are the paper's x_T ~ N(0, T^2 I); see _start for what the difference costs.
    """
    if not (isinstance(model, Precond) and model.is_consistency):
        raise TypeError("model must be a consistency model: a Precond with sigma_min > 0 (from train_cd / train_ct)")
    device = next(model.parameters()).device
    sigmas = _levels(num_steps, sigmas, model.sigma_min, sigma_max)
    generator = torch.Generator(device).manual_seed(seed)
    noise = torch.randn(int(n), model.net.dim, generator=generator, device=device)
    noise = _start(noise, sigmas[0], data_mean, data_std)
    return consistency_sampler(
        model, noise, sigmas.to(device), generator=generator, return_trajectory=return_trajectory
    )


def sample_exact_consistency(
    task, n, *, num_steps=1, sigmas=None, seed=0, sigma_max=SIGMA_MAX, sigma_min=SIGMA_MIN, data_mean=0.0, data_std=0.0
):
    """What a perfect consistency model samples: sample_consistency's algorithm, levels, start and noise (the same seed
    gives the same z), with exact_consistency as f. From the matched start (data_mean=task.mean(),
    data_std=task.std()) its samples follow the task up to an O(T^-3) error, so its score is the noise floor of exactly
    these noise draws: the reference a trained model's score with the same seed should be read against. From the
    paper's N(0, T^2) start (the default) it also carries that start's offset (see _start)."""
    task = get_dataset(task)
    sigmas = _levels(num_steps, sigmas, sigma_min, sigma_max)
    generator = torch.Generator().manual_seed(seed)
    noise = _start(torch.randn(int(n), task.dim, generator=generator), sigmas[0], data_mean, data_std)
    f = lambda x, sigma: exact_consistency(task, x, sigma, sigma_min=sigma_min)
    return consistency_sampler(f, noise, sigmas, sigma_min=sigma_min, generator=generator)


# ----- models and teachers -------------------------------------------------------------------------------------------


def consistency_model(
    dim=1,
    *,
    init=None,
    hidden=128,
    depth=3,
    x_features=16,
    x_scale=1.0,
    sigma_data=SIGMA_DATA,
    sigma_min=SIGMA_MIN,
    seed=0,
):
    """A consistency function f(x, sigma) = Precond(MLP, sigma_min > 0), so f(x, sigma_min) = x exactly.

    init: a trained Precond (e.g. the EDM denoiser) whose MLP weights start f; None draws fresh weights with `seed`.
    With sigma_min = 0.002 the consistency scalings differ from EDM's by at most 0.2% at sigma >= 1, so an EDM
    denoiser is already a good f at high noise (the original's "pretrain with diffusion" trick).
    """
    if init is None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            net = MLP(dim, hidden, depth, x_features=x_features, x_scale=x_scale)
    elif isinstance(init, Precond):
        net, sigma_data = copy.deepcopy(init.net), init.sigma_data
    else:
        raise TypeError(f"init must be None or a trained Precond (e.g. from train_edm), got {type(init).__name__}")
    return Precond(net, sigma_data=sigma_data, sigma_min=sigma_min).requires_grad_(True)


def _as_denoiser(teacher, task):
    """The teacher as a denoiser D(x [B, D], sigma [B, 1]) -> [B, D], checked on a probe batch."""
    if isinstance(teacher, str):
        if teacher != "exact":
            raise ValueError(f"unknown teacher {teacher!r}; valid choices: a trained EDM model (Precond) or 'exact'")
        return lambda x, sigma: task.denoise(x, sigma).to(x.dtype)
    if not callable(teacher):
        raise TypeError(
            f"teacher must be a denoiser D(x, sigma) (a trained EDM model) or 'exact', got {type(teacher).__name__}"
        )
    if isinstance(teacher, Precond) and teacher.is_consistency:
        raise ValueError(
            "teacher is a consistency model (sigma_min > 0); distillation needs a denoiser D(x, sigma), "
            "e.g. train_edm(task), or 'exact'"
        )
    if isinstance(teacher, torch.nn.Module):
        teacher = copy.deepcopy(teacher).requires_grad_(False)
    params = list(teacher.parameters()) if isinstance(teacher, torch.nn.Module) else []
    device = params[0].device if params else "cpu"  # probe where the teacher lives
    x = torch.zeros(4, task.dim, device=device)
    try:
        with torch.no_grad():
            out = teacher(x, torch.full((4, 1), 1.0, device=device))
    except Exception as error:  # anything a wrong signature raises
        raise TypeError(
            f"teacher must be callable as D(x [B, {task.dim}], sigma [B, 1]) -> [B, {task.dim}]; "
            f"calling it failed with {type(error).__name__}: {error}"
        ) from error
    if not torch.is_tensor(out) or out.shape != x.shape:
        shape = list(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ValueError(f"teacher must return a denoised batch of shape [B, {task.dim}] like its input, got {shape}")
    return teacher


def _finish(result):
    result.ema.history = result
    result.ema.requires_grad_(False)
    return result.ema


# ----- consistency distillation -------------------------------------------------------------------------------------


# Consistency distillation (Song et al. 2023, Algorithm 2). Deviations for the toy tasks:
# - N = 40 levels (CIFAR-10: 18): best of 10 / 20 / 40 / 80 (benchmarks/results/sweep.md, num_scales rows).
# - 8,000 steps of 256 at lr 8e-3: many small steps sharpen the one-step map's jumps between modes more than few large.
# - pseudo-Huber c = 0.03 (iCT, Song & Dhariwal 2023, arXiv 2310.14189, Sec. 3.3), not squared L2 (sweep.md, metric).
# - levels from iCT's discretised log-normal (Sec. 3.5; P_mean -0.5 for our sigma_data = 1), not uniform: uniform draws
#   waste half the batch above sigma = 2.8, where f barely changes (consistency.md, rows "CD, uniform levels").
def train_cd(
    task,
    teacher,
    *,
    seed=0,
    steps=8000,
    batch_size=256,
    lr=8e-3,
    ema_decay=0.999,
    num_scales=40,
    target_decay=0.95,
    c=0.03,
    P_mean=-0.5,
    P_std=2.0,
    init="teacher",
    hidden=None,
    depth=None,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    """Consistency distillation (Song et al. 2023, Algorithm 2) of a teacher denoiser; returns the EMA model with
    `.history` (a TrainResult).

    teacher: a trained EDM model (Precond with sigma_min = 0) or "exact" (the mixture's exact denoiser, an oracle).
    num_scales: N levels of the Karras grid (rho = 7) the teacher steps between (CIFAR-10: 18).
    target_decay: the target network's EMA mu (paper: 0.95); 0 makes the target the student under stop-gradient.
    c: the pseudo-Huber constant (Song & Dhariwal 2023, arXiv 2310.14189, Sec. 3.3); None for squared L2.
    P_mean, P_std: the levels' discretised log-normal (iCT, Sec. 3.5); P_mean=None draws them uniformly (the paper).
    init: "teacher" starts from the teacher's weights when it is a Precond (as the paper's code does), else fresh;
    None for fresh weights; or any trained Precond.
    hidden, depth: the MLP's size for a fresh network (default 128, 3); a network started from init keeps init's
    shape, and a different hidden or depth is an error.
    """
    task = get_dataset(task)
    denoiser = _as_denoiser(teacher, task)
    if isinstance(init, str):
        if init != "teacher":
            raise ValueError(f"unknown init {init!r}; valid choices: 'teacher', None, or a trained Precond")
        init = teacher if isinstance(teacher, Precond) else None
    if init is None:
        hidden, depth = hidden or 128, depth or 3
    elif (hidden or init.net.hidden, depth or init.net.depth) != (init.net.hidden, init.net.depth):
        # A network started from trained weights has their shape; silently ignoring hidden/depth would mislead.
        raise ValueError(
            f"hidden={hidden}, depth={depth} conflict with the init network's hidden={init.net.hidden}, "
            f"depth={init.net.depth}: the student starts from init's weights and keeps its shape; "
            f"pass init=None for a fresh network of another size, or leave hidden and depth out"
        )
    model = consistency_model(task.dim, init=init, hidden=hidden, depth=depth, sigma_min=sigma_min, seed=seed)
    loss = functools.partial(
        cd_loss,
        teacher=denoiser,
        num_scales=num_scales,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        rho=rho,
        P_mean=P_mean,
        P_std=P_std,
    )
    return _train_with_target(
        model,
        loss,
        task,
        c=c,
        target_decay=target_decay,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        seed=seed,
        progress=progress,
        desc="CD",
    )


def _train_with_target(model, loss, task, *, c, target_decay, steps, batch_size, lr, ema_decay, seed, progress, desc):
    """The loop of CD and of the batch recipe: a target network (EMA of the model with a fixed decay), the pseudo-Huber
    metric (squared L2 for c None), cosine learning-rate decay; loss is cd_loss or ct_loss without target and
    distance. Returns the EMA model."""
    target = copy.deepcopy(model).requires_grad_(False)
    distance = squared_l2 if c is None else functools.partial(pseudo_huber, c=c)
    result = train(
        model,
        functools.partial(loss, target=target, distance=distance),
        task,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        target=target,
        target_decay=lambda step: target_decay,
        lr_schedule=cosine_decay(steps),
        seed=seed,
        progress=progress,
        desc=desc,
    )
    return _finish(result)


# ----- consistency training -----------------------------------------------------------------------------------------


# The default recipe, "pool", has the lowest one-step W1 and gap mass of the recipes on the three multimodal tasks; on
# the single Gaussian, which has no gaps, "batch" is ahead (benchmarks/results/consistency.md).
def train_ct(task, *, recipe="pool", init=None, seed=0, **overrides):
    """Discrete consistency training without a teacher; returns the EMA consistency model with `.history`.

    recipe: "pool" (the default: "batch" with a large binned sample of the data as the denoiser's reference and a
    teacher that walks 4 levels per target), "batch" (Song et al. 2023's CT loss, Eq. 10, whose ODE step is a Heun
    step with the batch as the denoiser, in CD's setup), "song2023" (Song et al. 2023, Algorithm 3 with the N(k),
    mu(k) curriculum of Appendix C), "ict" (Song & Dhariwal 2023, arXiv 2310.14189) or "ect" (Geng et al. 2024,
    arXiv 2406.14548; starts from an EDM model, trained first when init is None). init: a trained EDM model to start
    from (None: fresh weights, or for ECT a fresh EDM run). overrides: the recipe's keyword arguments (see
    _train_batch, whose defaults _train_pool changes, _train_song2023, _train_ict, _train_ect).
    """
    recipes = {
        "pool": _train_pool,
        "batch": _train_batch,
        "song2023": _train_song2023,
        "ict": _train_ict,
        "ect": _train_ect,
    }
    if recipe not in recipes:
        raise ValueError(f"unknown recipe {recipe!r}; valid choices: {', '.join(recipes)}")
    return recipes[recipe](get_dataset(task), init=init, seed=seed, **overrides)


POOL_SEED_OFFSET = 1_000_003  # the pool recipe's sample is drawn with its own generator, seeded seed + this


# The batch recipe: Song et al. 2023's CT (Eq. 10) with its one-sample Euler step x0 + t_n z replaced by a Heun step
# (samplers.heun_step, as in CD) of the PF-ODE whose denoiser is batch_denoiser, E[x0 | x] under the batch (the stable
# target field of Xu et al. 2023, arXiv 2302.00670, used for CT by Stable Consistency Tuning, Wang et al. 2024,
# arXiv 2410.18958). No trained model enters the target; everything else is train_cd's setup, except:
# - Heun, not Euler: over 40 levels an Euler step's error biases the target.
# - uniform levels (Algorithm 3): CD's log-normal did not lower the gap mass here.
# - fresh weights: the EDM init helps some tasks, hurts others (consistency.md, rows "CT batch, from the EDM model").
# Between modes few batch points are near, so its denoiser is noisy there and the gap mass stays high: see pool.
def _train_batch(
    task,
    *,
    init=None,
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
    span=1,
    pool_size=None,
    bin_width=0.02,
    hidden=128,
    depth=3,
    x_features=16,
    x_scale=1.0,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    model = consistency_model(
        task.dim,
        init=init,
        hidden=hidden,
        depth=depth,
        x_features=x_features,
        x_scale=x_scale,
        sigma_min=sigma_min,
        seed=seed,
    )
    reference = None
    if pool_size is not None and (int(pool_size) != pool_size or pool_size < 1):
        raise ValueError(
            f"pool_size must be a positive integer (samples in the reference) or None (the batch), got {pool_size}"
        )
    if pool_size is not None:  # the pool recipe's reference: its own generator, so the training batches are unchanged
        pool = task.sample(pool_size, torch.Generator().manual_seed(POOL_SEED_OFFSET + seed))
        reference = binned_reference(pool.to(next(model.parameters()).device), bin_width)
    loss = functools.partial(
        ct_loss,
        num_scales=num_scales,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        rho=rho,
        reference_batch=reference is None,
        reference=reference,
        P_mean=P_mean,
        P_std=P_std,
        span=span,
    )
    return _train_with_target(
        model,
        loss,
        task,
        c=c,
        target_decay=target_decay,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        seed=seed,
        progress=progress,
        desc="CT (batch)" if pool_size is None else "CT (pool)",
    )


# The pool recipe: the batch recipe with two changes against the blur of the one-step map's jumps between modes.
# 1. The denoiser of a large sample (2^20 points, binned: losses.binned_reference; pass a larger bin_width in 2D), not
#    the batch's: 256 points hold each mode's share only to +-3 percentage points, which moves the boundary between
#    the modes' basins from step to step, and the loss averages targets on both sides of it into a ramp.
# 2. span = 4: the teacher walks 4 levels per target (losses._teacher_solve), so the jumps climb the grid in a quarter
#    of the bootstraps.
# With train_cd's log-normal levels. The large sample removes most of the excess gap mass, the walk the rest
# (benchmarks/results/consistency.md, rows "CT pool, one level per target" and "CT pool, the batch as reference").
_train_pool = functools.partial(_train_batch, span=4, pool_size=2**20, P_mean=-0.5)


def _train_song2023(
    task,
    *,
    init=None,
    seed=0,
    steps=8000,
    batch_size=256,
    lr=1e-3,
    ema_decay=0.999,
    s0=10,
    s1=150,
    mu0=0.9,
    c=None,
    hidden=128,
    depth=3,
    x_features=16,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    # Song et al. 2023, Algorithm 3 with N(k) and mu(k) of Appendix C (CIFAR-10: s0 = 2, s1 = 150, mu0 = 0.9).
    # Deviation: s0 = 10. With s0 = 2 the first grid is {sigma_min, sigma_max}, whose CT target is the data mean: every
    # one-step sample collapses into one mode, and the EMA target keeps it there for the whole short budget.
    model = consistency_model(
        task.dim, init=init, hidden=hidden, depth=depth, x_features=x_features, sigma_min=sigma_min, seed=seed
    )
    target = copy.deepcopy(model).requires_grad_(False)
    num_scales = functools.partial(song2023_num_scales, total_steps=steps, s0=s0, s1=s1)
    distance = squared_l2 if c is None else functools.partial(pseudo_huber, c=c)
    loss = functools.partial(
        ct_loss,
        target=target,
        num_scales=num_scales,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        rho=rho,
        distance=distance,
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
        target_decay=lambda step: song2023_target_decay(num_scales(step), s0, mu0),
        lr_schedule=cosine_decay(steps),
        seed=seed,
        progress=progress,
        desc="CT (Song 2023)",
    )
    return _finish(result)


def _train_ict(
    task,
    *,
    init=None,
    seed=0,
    steps=4000,
    batch_size=1024,
    lr=3e-3,
    ema_decay=0.999,
    s0=10,
    s1=160,
    P_mean=0.0,
    P_std=2.0,
    c=0.03,
    hidden=128,
    depth=3,
    x_features=16,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    # iCT (Song & Dhariwal 2023, arXiv 2310.14189): no target EMA, pseudo-Huber, 1 / (t_{n+1} - t_n) weighting,
    # log-normal levels, N(k) doubling from s0 + 1 to s1 + 1 (CIFAR-10: s1 = 1280, P_mean = -1.1, 400k steps).
    # Deviations for the toy budget:
    # - s1 = 160: on a short budget the boundary condition must still climb the chain; finer grids train too slowly.
    # - P_mean = 0: centres the levels at sigma = 1 (our sigma_data and the modes' scale), not exp(-1.1) = 0.33.
    # - c = 0.03 kept although 1D |f - target| has the data's scale, not a 3072-pixel norm: a large c trained worse.
    # - 4,000 steps of 1,024 at lr 3e-3: a larger batch averages CT's widely spread one-sample target x0 + t_n z.
    model = consistency_model(
        task.dim, init=init, hidden=hidden, depth=depth, x_features=x_features, sigma_min=sigma_min, seed=seed
    )
    num_scales = functools.partial(ict_num_scales, total_steps=steps, s0=s0, s1=s1)
    loss = functools.partial(
        ict_loss,
        num_scales=num_scales,
        P_mean=P_mean,
        P_std=P_std,
        c=c,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        rho=rho,
    )
    result = train(
        model,
        loss,
        task,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        lr_schedule=cosine_decay(steps),
        seed=seed,
        progress=progress,
        desc="CT (iCT)",
    )
    return _finish(result)


def _train_ect(
    task,
    *,
    init=None,
    seed=0,
    steps=6000,
    batch_size=256,
    lr=2e-3,
    ema_decay=0.999,
    stages=8,
    q=2.0,
    k=8.0,
    b=1.0,
    P_mean=-0.4,
    P_std=2.0,
    c=0.03,
    edm_steps=4000,
    hidden=128,
    depth=3,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    reference_batch=True,
    progress=True,
):
    # ECT (Geng et al. 2024, arXiv 2406.14548): from an EDM denoiser, stage s pairs t with r = t (1 - q^-(s+1)
    # (1 + k sigmoid(-b t))), halving t - r every stage (CIFAR-10: q = 2, k = 8, b = 1, P_mean = -1.1, 8 stages).
    # Deviations for the toy tasks:
    # - P_mean = -0.4: CIFAR's log-normal shifted by ln 2 for our sigma_data = 1 (vs 0.5).
    # - pseudo-Huber c = 0.03 as iCT, not c = 0 (in 1D an L1 loss, which fits the median of a multimodal target).
    # - 6,000 steps of 256 at lr 2e-3: the toy time budget, EDM pretraining included.
    # - reference_batch=True: x_r by an Euler step with losses.batch_denoiser (as the batch recipe), not x0 + r z; its
    #   far smaller spread leaves no median to be biased towards (consistency.md, rows "CT ect, one-sample target").
    pretrain_seconds = 0.0
    if init is None:
        init = train_edm(task, seed=seed, steps=edm_steps, hidden=hidden, depth=depth, progress=progress)
        pretrain_seconds = init.history.seconds
    model = consistency_model(task.dim, init=init, sigma_min=sigma_min)
    stage_steps = max(1, steps // stages)
    loss = functools.partial(
        ect_loss,
        stage=lambda step: min(step // stage_steps, stages - 1),
        P_mean=P_mean,
        P_std=P_std,
        c=c,
        q=q,
        k=k,
        b=b,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        reference_batch=reference_batch,
    )
    result = train(
        model,
        loss,
        task,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        lr_schedule=cosine_decay(steps),
        seed=seed,
        progress=progress,
        desc="CT (ECT)",
    )
    result.pretrain_seconds = pretrain_seconds
    return _finish(result)
