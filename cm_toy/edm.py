"""The EDM diffusion recipe for the toy tasks (Karras et al. 2022): train a denoiser, sample the PF-ODE."""

import functools

import torch

from .data import get_dataset
from .guidance import Guided, class_prior_sample
from .losses import edm_loss
from .networks import MLP, Precond
from .samplers import euler_sampler, heun_sampler
from .schedules import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, cosine_decay, karras_sigmas
from .train import train

__all__ = ["train_edm", "sample_edm", "pretrained"]


# The batch target (reference_batch=True, the stable target field of Xu et al. 2023, arXiv 2302.00670): the denoiser
# regresses on the batch's estimate of E[x0 | x], a target of far less variance than x0 itself. CD students of such
# teachers score better on the multimodal tasks (benchmarks/results/consistency.md, rows "CD, EDM teacher trained on
# x0"). It costs extra time per step (losses.REFERENCE_SIZE). Conditional training uses it too, each labelled point
# explained by its own class only (losses.batch_target).
def train_edm(
    task,
    *,
    seed=0,
    steps=4000,
    batch_size=1024,
    lr=2e-3,
    ema_decay=0.999,
    hidden=128,
    depth=3,
    x_features=16,
    x_scale=1.0,
    sigma_data=SIGMA_DATA,
    P_mean=-0.8,
    P_std=1.4,
    conditional=False,
    label_dropout=0.1,
    reference_batch=True,
    device="cpu",
    progress=True,
):
    """Train an EDM denoiser D(x, sigma) on a task; returns a TrainResult (the denoiser to sample with is its .ema).

    conditional: learn D(x, sigma, c) for the mixture component c, with the label replaced by the "no label" class
    (c = number of components) with probability label_dropout, so the same network is also the unconditional
    denoiser, as classifier-free guidance needs (Ho & Salimans 2022, arXiv 2207.12598, Algorithm 1; p_uncond = 0.1).
    x_features, x_scale: the MLP's Fourier features of its input (networks.InputFeatures; 0 for none).
    reference_batch: regress on the batch's estimate of E[x0 | x] (losses.batch_denoiser, the stable target field of
    Xu et al. 2023, arXiv 2302.00670) instead of on x0 itself; for conditional training, within each class. Measured:
    see the comment above the function.
    The model also stores the classes' means and stds (class_means, class_stds) for the class-aware start of sampling.
    device: where the model lives and trains ("cuda" for a GPU); everything downstream follows the model's device.
    """
    task = get_dataset(task)
    if not 0 <= label_dropout < 1:
        raise ValueError(f"label_dropout must be in [0, 1), got {label_dropout}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = MLP(
            task.dim,
            hidden,
            depth,
            num_classes=task.num_components if conditional else 0,
            x_features=x_features,
            x_scale=x_scale,
        )
        classes = dict(class_means=task.means, class_stds=task.stds) if conditional else {}
        model = Precond(net, sigma_data=sigma_data, **classes).to(device)
    loss = functools.partial(edm_loss, P_mean=P_mean, P_std=P_std, reference_batch=reference_batch)
    return train(
        model,
        loss,
        task,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        lr_schedule=cosine_decay(steps),
        conditional=conditional,
        label_dropout=label_dropout,
        seed=seed,
        progress=progress,
        desc="EDM (conditional)" if conditional else "EDM",
    )


def pretrained(task, init=None, *, steps=4000, seed=0, hidden=128, depth=3, progress=True):
    """The EDM denoiser a consistency recipe starts from, and the seconds spent training it: init itself if given (a
    Precond with sigma_min = 0), else train_edm's EMA model after `steps` steps (steps=0: none, fresh weights)."""
    if init is not None:
        if not (isinstance(init, Precond) and not init.is_consistency):
            raise TypeError("init must be None or an EDM denoiser (a Precond with sigma_min = 0, e.g. from train_edm)")
        return init, 0.0
    if not steps:
        return None, 0.0
    result = train_edm(task, seed=seed, steps=steps, hidden=hidden, depth=depth, progress=progress)
    return result.ema, result.seconds


def sample_edm(
    model,
    n,
    *,
    num_steps=64,
    solver="heun",
    seed=0,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    rho=7.0,
    return_trajectory=False,
    labels=None,
    guidance=0.0,
    class_prior=True,
):
    """n samples by integrating the PF-ODE over num_steps Karras levels and a final step to 0; [n, D].

    labels: for a conditional model (train_edm(..., conditional=True)), one class for every sample (an int) or one per
    sample ([n]); None samples unconditionally. guidance: the classifier-free guidance strength w (0: none), see
    cm_toy.guidance.Guided.
    class_prior: with labels, start class k at x_T ~ N(mu_k, sigma_max^2 + s_k^2), the noisy class itself
    (guidance.class_prior_sample), instead of N(0, sigma_max^2), which shifts class k by about mu_k s_k / sigma_max
    even along the exact ODE. The same start is used with guidance (w only changes the drift); "no label" rows start
    from N(0, sigma_max^2), as an unconditional model assumes. False: N(0, sigma_max^2) for every class. Both starts
    are measured per class in benchmarks/results/conditional.md: along the exact ODE the classes with mu_k != 0 reach
    the noise floor only from the class start; a learned model keeps small mean errors of its own, which
    N(0, sigma_max^2)'s inward offset can hide or add to.
    """
    samplers = {"heun": heun_sampler, "euler": euler_sampler}
    if solver not in samplers:
        raise ValueError(f"unknown solver {solver!r}; valid choices: {', '.join(samplers)}")
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    noise = torch.randn(int(n), model.net.dim, generator=generator, device=device)
    sigmas = torch.cat([karras_sigmas(num_steps, sigma_min, sigma_max, rho), torch.zeros(1)]).to(device)
    if labels is not None or guidance != 0:
        model = Guided(model, labels, guidance, n=int(n))
        if class_prior and labels is not None:
            noise = class_prior_sample(model, model.labels, noise, sigma_max) / sigma_max
    return samplers[solver](model, noise, sigmas, return_trajectory=return_trajectory)
