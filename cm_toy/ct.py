"""Discrete consistency training without a teacher: Song et al. 2023 (arXiv 2303.01469, Algorithm 3), iCT (Song &
Dhariwal 2023, arXiv 2310.14189) and ECT (Geng et al. 2024, arXiv 2406.14548), each with the papers' one-sample
target x0 + t z; and, as an aside, the batch recipe, whose ODE step uses the batch's estimate of the denoiser (the
stable target field). Each recipe is a plain function returning a TrainResult; train_ct(task, recipe=...) picks one
by name. Distillation from the data's empirical denoiser is train_cd(task, "empirical")."""

import functools

from .consistency import consistency_model
from .data import get_dataset
from .distillation import fit_with_target
from .edm import pretrained
from .losses import ct_loss, ect_loss, ict_loss, pseudo_huber, squared_l2
from .schedules import SIGMA_MAX, SIGMA_MIN, cosine_decay, ict_num_scales, song2023_num_scales, song2023_target_decay
from .train import train

__all__ = ["train_ct", "RECIPES", "train_ct_batch", "train_song2023", "train_ict", "train_ect"]


# The stable-target-field recipe, taught as an aside: Song et al. 2023's CT (Eq. 10) with its one-sample Euler step
# x0 + t_n z replaced by a Heun step (samplers.heun_step, as in CD) of the PF-ODE whose denoiser is batch_denoiser,
# E[x0 | x] under the batch (the stable target field of Xu et al. 2023, arXiv 2302.00670, used for CT by Stable
# Consistency Tuning, Wang et al. 2024, arXiv 2410.18958). No trained model enters the target, but the batch is a
# teacher: its denoiser is the empirical one of 256 points, which works in 1D and 2D and collapses onto each sample's
# own x0 as the dimension grows (benchmarks/results/reference_count.md). Everything else is train_cd's setup, except:
# - Heun, not Euler: over 40 levels an Euler step's error biases the target.
# - uniform levels (Algorithm 3): CD's log-normal did not lower the gap mass here.
# - fresh weights: the EDM init helps some tasks, hurts others (consistency.md, rows "CT batch, from the EDM model").
def train_ct_batch(
    task,
    *,
    init=None,  # a trained EDM model to start from; None: fresh weights
    seed=0,
    steps=8000,
    batch_size=256,
    lr=8e-3,
    ema_decay=0.999,
    num_scales=40,
    target_decay=0.95,
    c=0.03,  # pseudo-Huber constant; None for squared L2
    P_mean=None,  # None: uniform levels (Algorithm 3); a number: iCT's discretised log-normal
    P_std=2.0,
    hidden=128,
    depth=3,
    x_features=16,
    x_scale=1.0,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    """CT whose ODE step is a Heun step of the batch's denoiser (variance-reduced CT); returns a TrainResult."""
    task = get_dataset(task)
    model = consistency_model(
        task.dim, init=init, hidden=hidden, depth=depth, x_features=x_features, x_scale=x_scale, sigma_min=sigma_min,
        seed=seed,
    )  # fmt: skip
    loss = functools.partial(
        ct_loss, num_scales=num_scales, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, reference_batch=True,
        P_mean=P_mean, P_std=P_std,
    )  # fmt: skip
    return fit_with_target(
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
        desc="CT (batch)",
    )


def train_song2023(
    task,
    *,
    init=None,
    seed=0,
    steps=8000,
    batch_size=256,
    lr=1e-3,
    ema_decay=0.999,
    s0=10,  # the curriculum N(k) grows from s0 to s1 + 1 levels (Appendix C)
    s1=150,
    mu0=0.9,  # the target decay mu(k) starts at mu0
    c=None,  # None: squared L2 (the paper's CIFAR-10 LPIPS has no toy counterpart); a number: pseudo-Huber
    hidden=128,
    depth=3,
    x_features=16,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    """Consistency training, Song et al. 2023, Algorithm 3 with the N(k), mu(k) curriculum of Appendix C (CIFAR-10:
    s0 = 2, s1 = 150, mu0 = 0.9); returns a TrainResult.

    Deviation: s0 = 10. With s0 = 2 the first grid is {sigma_min, sigma_max}, whose CT target is the data mean: every
    one-step sample collapses into one mode, and the EMA target keeps it there for the whole short budget.
    """
    task = get_dataset(task)
    model = consistency_model(
        task.dim, init=init, hidden=hidden, depth=depth, x_features=x_features, sigma_min=sigma_min, seed=seed
    )
    num_scales = functools.partial(song2023_num_scales, total_steps=steps, s0=s0, s1=s1)
    distance = squared_l2 if c is None else functools.partial(pseudo_huber, c=c)
    loss = functools.partial(
        ct_loss, num_scales=num_scales, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, distance=distance
    )
    return train(
        model,
        loss,
        task,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        target_decay=lambda step: song2023_target_decay(num_scales(step), s0, mu0),
        lr_schedule=cosine_decay(steps),
        seed=seed,
        progress=progress,
        desc="CT (Song 2023)",
    )


def train_ict(
    task,
    *,
    init=None,
    seed=0,
    steps=4000,
    batch_size=1024,
    lr=3e-3,
    ema_decay=0.999,
    s0=10,  # N(k) doubles from s0 + 1 to s1 + 1 levels
    s1=160,
    P_mean=0.0,  # the levels' discretised log-normal
    P_std=2.0,
    c=0.03,  # pseudo-Huber constant
    hidden=128,
    depth=3,
    x_features=16,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    """Improved consistency training (Song & Dhariwal 2023, arXiv 2310.14189): no target EMA, pseudo-Huber,
    1 / (t_{n+1} - t_n) weighting, log-normal levels, N(k) doubling (CIFAR-10: s1 = 1280, P_mean = -1.1, 400k steps);
    returns a TrainResult. Deviations for the toy budget:
    - s1 = 160: on a short budget the boundary condition must still climb the chain; finer grids train too slowly.
    - P_mean = 0: centres the levels at sigma = 1 (our sigma_data and the modes' scale), not exp(-1.1) = 0.33.
    - c = 0.03 kept although 1D |f - target| has the data's scale, not a 3072-pixel norm: a large c trained worse.
    - 4,000 steps of 1,024 at lr 3e-3: a larger batch averages CT's widely spread one-sample target x0 + t_n z.
    """
    task = get_dataset(task)
    model = consistency_model(
        task.dim, init=init, hidden=hidden, depth=depth, x_features=x_features, sigma_min=sigma_min, seed=seed
    )
    num_scales = functools.partial(ict_num_scales, total_steps=steps, s0=s0, s1=s1)
    loss = functools.partial(
        ict_loss, num_scales=num_scales, P_mean=P_mean, P_std=P_std, c=c, sigma_min=sigma_min, sigma_max=sigma_max,
        rho=rho,
    )  # fmt: skip
    return train(
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


def train_ect(
    task,
    *,
    init=None,  # the EDM model to start from; None trains one first (edm_steps)
    seed=0,
    steps=6000,
    batch_size=256,
    lr=2e-3,
    ema_decay=0.999,
    stages=8,  # the gap t - r halves every stage
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
    reference_batch=False,  # False: the paper's x0 + r z; True: x_r by an Euler step of the batch's denoiser
    progress=True,
):
    """Easy consistency tuning (Geng et al. 2024, arXiv 2406.14548): from an EDM denoiser, stage s pairs t with
    r = t (1 - q^-(s+1) (1 + k sigmoid(-b t))) (CIFAR-10: q = 2, k = 8, b = 1, P_mean = -1.1, 8 stages); returns a
    TrainResult. Deviations for the toy tasks:
    - P_mean = -0.4: CIFAR's log-normal shifted by ln 2 for our sigma_data = 1 (vs 0.5).
    - pseudo-Huber c = 0.03 as iCT, not c = 0 (in 1D an L1 loss, which fits the median of a multimodal target).
    - 6,000 steps of 256 at lr 2e-3: the toy time budget, EDM pretraining included.
    reference_batch=True (not the paper) takes x_r by an Euler step of losses.batch_denoiser, as the batch recipe.
    """
    task = get_dataset(task)
    init, pretrain_seconds = pretrained(
        task, init, steps=edm_steps, seed=seed, hidden=hidden, depth=depth, progress=progress
    )
    if init is None:
        raise ValueError("ECT starts from an EDM model: give init or edm_steps >= 1")
    model = consistency_model(task.dim, init=init, sigma_min=sigma_min)
    stage_steps = max(1, steps // stages)
    loss = functools.partial(
        ect_loss, stage=lambda step: min(step // stage_steps, stages - 1), P_mean=P_mean, P_std=P_std, c=c, q=q, k=k,
        b=b, sigma_min=sigma_min, sigma_max=sigma_max, reference_batch=reference_batch,
    )  # fmt: skip
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
    return result


# train_ct's recipes, the default first: at their default budgets ECT has the lowest one-step W1 of the three
# published recipes on three_gmm_1D and uneven_two_gmm_1D, ties iCT on two_gmm_1D and Song 2023 on single_gaussian_1D,
# and the lowest two-step W1 on all but uneven_two_gmm_1D (benchmarks/results/consistency.md, rows "CT ect", "CT ict",
# "CT song2023").
# None comes near distillation: benchmarks/results/ct_cost.md and ct_tune.md measure the price.
RECIPES = dict(ect=train_ect, ict=train_ict, song2023=train_song2023, batch=train_ct_batch)


def train_ct(task, *, recipe="ect", **kwargs):
    """Consistency training without a teacher, by the recipe's name (RECIPES): "ect" (the default, train_ect), "ict"
    (train_ict), "song2023" (train_song2023), or "batch" (train_ct_batch, the variance-reduced aside). kwargs go to
    that recipe's function. Returns a TrainResult."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; valid choices: {', '.join(RECIPES)}")
    return RECIPES[recipe](task, **kwargs)
