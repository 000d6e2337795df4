"""Continuous-time consistency training (Song et al. 2023, arXiv 2303.01469, Sec. 6), and the recipes of every
continuous-time method (sCM's in trigflow.py).

As the number of discretisation steps N of consistency training grows, the pair (f at sigma + dsigma, f at sigma)
becomes a derivative: the stop-gradient loss gradient turns into lambda(sigma) grad_theta f . df/dsigma, where
df/dsigma is the total derivative of f along the (one-sample) probability-flow ODE. A Jacobian-vector product
(forward-mode AD: networks.module_jvp) computes that tangent exactly, in one forward pass. The default recipe is the
paper's, with the one-sample tangent. The limit also drops the target network's friction term of the discrete loss;
this project's "damped" recipe keeps the exact tangent and puts the friction back.
"""

import functools

import torch

from .consistency import consistency_model
from .data import get_dataset
from .distillation import as_denoiser
from .edm import pretrained
from .losses import batch_target
from .networks import module_jvp
from .schedules import SIGMA_MAX, SIGMA_MIN, cosine_decay
from .train import train
from .trigflow import lognormal, train_scm

__all__ = ["ct_tangent", "continuous_ct_loss", "train_continuous_song2023", "train_damped", "train_continuous_ct"]
__all__ += ["RECIPES"]


# The tangent of f along the one-sample PF-ODE (Song et al. 2023, arXiv 2303.01469, Sec. 6 and Appendix B.2):
# with the one-sample score -(x - x0) / sigma^2 the ODE dx/dsigma = -sigma * score = (x - x0) / sigma = z is the
# straight noising line x = x0 + sigma z, so df/dsigma = d/dsigma f(x0 + sigma z, sigma) = J_x f . z + d_sigma f:
# one JVP with tangents (z, 1).
def ct_tangent(model, x, sigma, z):
    """df/dsigma along x = x0 + sigma z at (x [B, D], sigma [B, 1]); returns (f, df/dsigma), both [B, D], no grad."""
    return module_jvp(model, (x, sigma), (z, torch.ones_like(sigma)))


# Continuous-time CT, stop-gradient form (Song et al. 2023, Theorem 6 / Eq. 29 of Appendix B.2: the limit of
# (N - 1) grad L_CT^N): grad E[lambda(sigma) f_theta(x, sigma) . sg(df/dsigma)], each sample's output paired with its
# OWN tangent (the dot product is over the data dimension only).
#
# Weighting, lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data^2) (this project's choice, for this reason): f
# = c_skip x + c_out F, so grad_theta f = c_out grad_theta F. A discrete step of size dsigma = sigma dlog(sigma) gives
# the target an error dsigma df/dsigma, which is (dsigma / c_out) df/dsigma in F's units; weighting every F equally
# (EDM's principle, Karras et al. 2022, Sec. 5) then asks for lambda = sigma / c_out^2, which is the expression above
# (sigma_min -> 0). It is also exactly the weight sCM's loss puts on f . df/dsigma before its prior and adaptive weights
# (cos t / (sigma_data sin t) in TrigFlow time, translated to sigma), so the two recipes differ by tangent normalisation
# and adaptive weighting, not by this factor. The noise levels are log-normal as in iCT/ECT.
#
# The returned value: the gradient comes from the pseudo-objective alone (its value is zero); the value shown in the
# loss curve is the squared consistency violation ||df/dlog(sigma)||^2 = sigma^2 ||df/dsigma||^2, zero for the exact
# consistency function, computed without gradient.
def continuous_ct_loss(
    model,
    x0,
    *,
    step=None,
    generator=None,
    labels=None,
    P_mean=-0.4,
    P_std=1.6,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    teacher=None,
    reference_batch=False,
    target=None,
    target_step=0.2,
):
    """Per-sample continuous-time CT loss, [B].

    teacher: None (CT: the one-sample direction z), or a denoiser D(x, sigma [B, 1]) whose ODE direction
    (x - D) / sigma replaces z (continuous-time CD).
    reference_batch: True uses the batch's own estimate losses.batch_denoiser as that D (variance-reduced CT).
    target: None (Song et al. 2023's stop-gradient limit), or a target network (an EMA copy of the model) whose
    friction term (f - f_target) / (target_step sigma) is added to the tangent (the "damped" recipe, below).
    """
    if target is not None and not target_step > 0:
        raise ValueError(f"target_step must be > 0 (the relative step dsigma / sigma), got {target_step}")
    sigma = lognormal(len(x0), P_mean, P_std, generator, x0).clamp(sigma_min, sigma_max)
    z = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x = x0 + sigma * z
    if teacher is not None and reference_batch:
        raise ValueError("give a teacher or reference_batch=True, not both")
    if teacher is not None:  # continuous-time CD (Song et al. 2023, Appendix B.1): the teacher's ODE direction
        with torch.no_grad():
            z = (x - teacher(x, sigma)) / sigma
    if reference_batch:  # the same direction from the batch's denoiser estimate
        z = (x - batch_target(x, sigma, x0, labels)) / sigma
    f_now, tangent = ct_tangent(model, x, sigma, z)
    if target is not None:  # the target network's friction (see train_damped)
        with torch.no_grad():
            tangent = tangent + (f_now - target(x, sigma)) / (target_step * sigma)
    f = model(x, sigma)
    sd = model.sigma_data
    lam = (sigma**2 + sd**2) / (sigma * sd**2)
    pseudo = (lam * (f - f.detach()) * tangent).sum(dim=1)  # value 0, gradient lambda grad f . df/dsigma
    return pseudo + ((sigma * tangent) ** 2).sum(dim=1)


def train_continuous_song2023(
    task,
    *,
    init=None,
    seed=0,
    steps=8000,
    batch_size=256,
    lr=1e-3,
    ema_decay=0.999,
    P_mean=-0.4,
    P_std=1.6,
    edm_steps=4000,
    hidden=128,
    depth=3,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    teacher=None,
    reference_batch=False,  # True: the tangent's direction from the batch's denoiser, not the one-sample z
    target_decay=None,
    target_step=0.2,
    progress=True,
    desc=None,
):
    """Song et al. 2023's continuous-time CT (Sec. 6; their CIFAR-10 code fine-tunes an EDM model with lr 1e-3);
    returns a TrainResult. init: the EDM model to start from (None: edm_steps of train_edm first; 0: fresh weights).
    teacher: a denoiser D(x, sigma) for continuous-time CD (Appendix B.1).
    Deviations: 8,000 steps of 256 (the toy budget); the weighting lambda(sigma) and log-normal levels of
    continuous_ct_loss. Options beyond the paper: reference_batch=True takes the tangent's direction (x - D) / sigma
    from losses.batch_denoiser (the stable target field) instead of the one-sample z; target_decay (None: the paper's
    stop-gradient limit) adds a target network's friction, see train_damped.
    """
    task = get_dataset(task)
    init, pretrain_seconds = pretrained(
        task, init, steps=edm_steps, seed=seed, hidden=hidden, depth=depth, progress=progress
    )
    model = consistency_model(task.dim, init=init, hidden=hidden, depth=depth, sigma_min=sigma_min, seed=seed)
    loss = functools.partial(
        continuous_ct_loss,
        P_mean=P_mean,
        P_std=P_std,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        reference_batch=reference_batch,
        teacher=None if teacher is None else as_denoiser(teacher, task),
        target_step=target_step,
    )
    desc = desc or ("continuous CT (Song 2023)" if teacher is None else "continuous CD (Song 2023)")
    result = train(
        model,
        loss,
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
    )
    result.pretrain_seconds = pretrain_seconds
    return result


# The damped recipe (our addition to Song et al. 2023's continuous CT). Discrete CT with a target network f- (an EMA of
# the model) has the gradient grad f . [f(x', sigma') - f-(x, sigma)], x' one step dsigma above x; to first order that
# is the tangent plus a friction term (f - f-) / dsigma pulling the model towards its own recent past. The continuous
# limit (dsigma -> 0, f- = f) drops the friction, and without it a good model is not a stable point: a well-trained
# discrete CT model, trained on with the continuous loss, gets worse. This recipe keeps the JVP tangent and puts the
# friction back at a finite relative step dsigma = target_step sigma, with the batch recipe's target decay and its
# variance-reduced tangent (the batch's denoiser).
def train_damped(task, *, lr=3e-3, target_decay=0.95, target_step=0.2, reference_batch=None, **kwargs):
    """train_continuous_song2023 with the friction of a target network (this project's addition, above); lr 3e-3:
    with the friction, 1e-3 learns too slowly; target_step 0.2: better than 0.1 on most seed tasks; reference_batch
    None: the batch's denoiser for CT, the teacher's for CD."""
    kind = "CT" if kwargs.get("teacher") is None else "CD"
    return train_continuous_song2023(
        task, lr=lr, target_decay=target_decay, target_step=target_step,
        reference_batch=kind == "CT" if reference_batch is None else reference_batch,
        desc=f"continuous {kind} (damped)", **kwargs,
    )  # fmt: skip


# train_continuous_ct's recipes, the published ones first: song2023, the default (ahead of scm in one step on every
# original task: benchmarks/results/continuous.md), scm, and this project's damped variant. Song et al. 2023's
# continuous CT is limited by the slow upward propagation of the boundary condition f(x, sigma_min) = x: its one-step
# map is too smooth at high sigma, and one call at a lower level T scores better than at sigma_max
# (benchmarks/results/start.md, "continuous CT" rows). On the three multi-mode tasks neither its knobs nor the exact
# denoiser's direction in place of the one-sample z bring the one-step gap mass within 3x the true value, which
# discrete CD from that exact denoiser comes close to (benchmarks/results/ct_tune.md, stage continuous;
# consistency.md, rows "CD, exact teacher"): the smooth map comes mostly from the continuous objective, not from the
# variance of the one-sample tangent.
RECIPES = dict(song2023=train_continuous_song2023, scm=train_scm, damped=train_damped)


def train_continuous_ct(task, *, recipe="song2023", **kwargs):
    """Continuous-time consistency training by the recipe's name (RECIPES): "song2023" (the default: the paper's JVP
    objective with the one-sample tangent, train_continuous_song2023), "scm" (sCT, Lu & Song 2024,
    trigflow.train_scm) or "damped" (this project's addition with a target network's friction, train_damped); each
    also takes `teacher=` (a denoiser: continuous-time CD). kwargs go to the recipe's function; returns a
    TrainResult."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; valid choices: {', '.join(RECIPES)}")
    return RECIPES[recipe](task, **kwargs)
