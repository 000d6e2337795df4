"""Consistency distillation (Song et al. 2023, arXiv 2303.01469, Algorithm 2): a consistency model learns the map of a
teacher's PF-ODE, one Heun step of the teacher per target; unconditional, or class-conditional with a guided teacher.
The teacher is a trained EDM model, the exact denoiser (an oracle), or the empirical denoiser of a sample of data."""

import copy
import functools

import torch

from .consistency import consistency_model
from .data import get_dataset
from .guidance import Guided, exact_guided_denoiser
from .losses import batch_denoiser, binned_reference, cd_loss, pseudo_huber, squared_l2
from .networks import MLP, Precond
from .schedules import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, cosine_decay
from .train import train

__all__ = ["train_cd", "train_cd_conditional", "as_denoiser", "empirical_denoiser"]

EMPIRICAL_SIZE = 2**20  # points in teacher="empirical"'s sample of the task
EMPIRICAL_SEED_OFFSET = 1_000_003  # that sample's own generator is seeded seed + this: the batches stay unchanged


# The denoiser of a finite sample's empirical distribution, E[x0 | x] with x0 uniform over the points
# (losses.batch_denoiser), binned (losses.binned_reference) so that 2^20 points cost about as much as a batch. Its
# PF-ODE carries noise onto the sample's points: as a teacher it is exact only as far as the sample is the
# distribution, which a few hundred thousand points of a 1D or 2D task are, and no sample of high-dimensional data is
# (benchmarks/results/memorisation.md, reference_count.md).
def empirical_denoiser(points, bin_width=0.02):
    """D(x [B, D], sigma [B, 1]) -> [B, D], the denoiser of the empirical distribution of points [M, D], binned
    into cells of side bin_width (a smaller cell for a sample of a few hundred points)."""
    reference, counts = binned_reference(points, bin_width)
    return lambda x, sigma: batch_denoiser(x, sigma, reference.to(x.device), counts=counts.to(x.device))


def as_denoiser(teacher, task, seed=0):
    """The teacher as a denoiser D(x [B, D], sigma [B, 1]) -> [B, D]: "exact" (the task's exact denoiser, an oracle),
    "empirical" (empirical_denoiser of EMPIRICAL_SIZE points of the task, drawn with seed + EMPIRICAL_SEED_OFFSET), a
    trained EDM model (copied, frozen) or any denoiser; checked on a probe batch, so a wrong teacher fails at once."""
    if isinstance(teacher, str):
        if teacher == "empirical":
            points = task.sample(EMPIRICAL_SIZE, torch.Generator().manual_seed(EMPIRICAL_SEED_OFFSET + seed))
            return empirical_denoiser(points)
        if teacher != "exact":
            raise ValueError(
                f"unknown teacher {teacher!r}; valid choices: a trained EDM model (Precond), 'exact' or 'empirical'"
            )
        return lambda x, sigma: task.denoise(x, sigma).to(x.dtype)
    if not callable(teacher):
        raise TypeError(
            f"teacher must be a denoiser D(x, sigma) (a trained EDM model), 'exact' or 'empirical', "
            f"got {type(teacher).__name__}"
        )
    if isinstance(teacher, Precond) and teacher.is_consistency:
        raise ValueError(
            "teacher is a consistency model (sigma_min > 0); distillation needs a denoiser D(x, sigma), "
            "e.g. train_edm(task).ema, or 'exact'"
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


def fit_with_target(
    model, loss, task, *, c, target_decay, steps, batch_size, lr, ema_decay, seed, progress, desc, **kw
):
    """The loop of CD (and of CT with a target network): the target an EMA of the model with a fixed decay, the
    pseudo-Huber metric (squared L2 for c None), cosine learning-rate decay. Returns the TrainResult."""
    distance = squared_l2 if c is None else functools.partial(pseudo_huber, c=c)
    return train(
        model,
        functools.partial(loss, distance=distance),
        task,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        target_decay=target_decay,
        lr_schedule=cosine_decay(steps),
        seed=seed,
        progress=progress,
        desc=desc,
        **kw,
    )


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
    steps=8000,  # training steps
    batch_size=256,
    lr=8e-3,
    ema_decay=0.999,  # the EMA of the weights sampled with
    num_scales=40,  # N levels of the Karras grid (rho = 7) the teacher steps between (CIFAR-10: 18)
    target_decay=0.95,  # the target network's EMA mu (paper: 0.95); 0 makes it the student under stop-gradient
    c=0.03,  # pseudo-Huber constant; None for squared L2
    P_mean=-0.5,  # the levels' discretised log-normal (iCT, Sec. 3.5); None draws them uniformly (the paper)
    P_std=2.0,
    span=1,  # levels the teacher walks (one Heun step each) per target (losses.teacher_walk); 1 is the paper
    init="teacher",
    hidden=None,
    depth=None,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    progress=True,
):
    """Consistency distillation (Song et al. 2023, Algorithm 2) of a teacher denoiser; returns a TrainResult (the
    model to sample with is its .ema).

    teacher: a trained EDM model (Precond with sigma_min = 0), "exact" (the mixture's exact denoiser, an oracle),
    "empirical" (the denoiser of 2^20 points of the task: empirical_denoiser) or any denoiser D(x, sigma).
    init: "teacher" starts from the teacher's weights when it is a Precond (as the paper's code does), else fresh;
    None for fresh weights; or any trained Precond.
    hidden, depth: the MLP's size for a fresh network (default 128, 3); a network started from init keeps init's
    shape, and a different hidden or depth is an error.
    """
    task = get_dataset(task)
    denoiser = as_denoiser(teacher, task, seed)
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
    grid = dict(num_scales=num_scales, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, P_mean=P_mean, P_std=P_std)
    loss = functools.partial(cd_loss, teacher=denoiser, span=span, **grid)
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
        desc="CD",
    )


# Pseudo-Huber c = 0.03, as train_cd. The levels are drawn uniformly (P_mean=None, Song et al. 2023, Algorithm 2):
# train_cd's log-normal levels did not help here (ring8_2D: better on fewer than half of the classes).
def train_cd_conditional(
    task,
    teacher,
    *,
    guidance=0.0,  # the classifier-free guidance strength w distilled into the student
    label_dropout=0.1,  # probability of the "no label" class (Ho & Salimans 2022: p_uncond = 0.1)
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
    """Class-conditional consistency distillation (Song et al. 2023, Algorithm 2) of a guided teacher; returns a
    TrainResult.

    The teacher's ODE step uses the guided denoiser D_w(x, sigma, c) (Ho & Salimans 2022, arXiv 2207.12598, Eq. 6)
    with the batch's labels, so the student f(x, sigma, c) learns the guided PF-ODE of a fixed w in one step; labels
    dropped to "no label" make the teacher unconditional (D_w = D there) and teach f the unconditional map too.
    teacher: a conditional EDM model (train_edm(task, conditional=True).ema) or "exact" (exact_guided_denoiser).
    The other arguments are train_cd's, except the levels: drawn uniformly (P_mean=None) unless P_mean is given.
    """
    task = get_dataset(task)
    K = task.num_components
    if isinstance(teacher, str):
        if teacher != "exact":
            raise ValueError(f"unknown teacher {teacher!r}; valid choices: a conditional EDM model or 'exact'")
    elif not (isinstance(teacher, Precond) and not teacher.is_consistency and teacher.net.num_classes == K):
        raise ValueError(
            f"teacher must be a conditional EDM denoiser with num_classes = {K} "
            "(train_edm(task, conditional=True).ema) or 'exact'"
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
    grid = dict(num_scales=num_scales, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, P_mean=P_mean, P_std=P_std)

    def loss(student, x0, *, step, generator, labels, target, distance):
        if isinstance(teacher, str):
            guided = exact_guided_denoiser(task, labels, guidance)
        else:
            guided = Guided(teacher, labels, guidance, n=len(x0))
        return cd_loss(
            student, x0, step=step, generator=generator, labels=labels, teacher=guided, target=target,
            distance=distance, **grid,
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
        desc="CD (conditional)",
        conditional=True,
        label_dropout=label_dropout,
    )
