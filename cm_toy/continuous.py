"""Continuous-time consistency training: Song et al. 2023's JVP objective and sCM / TrigFlow (Lu & Song 2024).

As the number of discretisation steps N of consistency training grows, the pair (f at sigma + dsigma, f at sigma)
becomes a derivative: the stop-gradient loss gradient turns into lambda(sigma) grad_theta f . df/dsigma, where
df/dsigma is the total derivative of f along the (one-sample) probability-flow ODE. A Jacobian-vector product
(forward-mode AD: torch.func.jvp, or module_jvp below) computes that tangent exactly, in one forward pass. The limit
also drops the target network's friction term of the discrete loss; the default recipe, "damped", keeps the exact
tangent and puts the friction back.
"""

import copy
import functools
import itertools
import math

import torch
import torch.autograd.forward_ad as fwAD
from torch import nn
from torch.func import functional_call

from .consistency import _as_denoiser, consistency_model
from .data import get_dataset
from .edm import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, train_edm
from .losses import _reference_target
from .networks import MLP, NoiseEmbedding, Precond
from .schedules import cosine_decay
from .train import train

__all__ = [
    "TrigFlow",
    "trigflow_from_edm",
    "continuous_ct_loss",
    "ct_tangent",
    "scm_loss",
    "scm_tangent",
    "train_continuous_ct",
    "CONTINUOUS_RECIPES",
]

# train_continuous_ct recipes; the first is the default, best of the three in one and two steps on every seed task
# (benchmarks/results/continuous.md). The undamped song2023 is limited by the slow upward propagation of the boundary
# condition f(x, sigma_min) = x: its one-step map is too smooth at high sigma, and one call at a lower level T scores
# better than at sigma_max (benchmarks/results/start.md, "continuous CT" rows); an exact tangent does not fix it.
CONTINUOUS_RECIPES = ("damped", "song2023", "scm")


# ----- Song et al. 2023: continuous-time consistency training ----------------------------------------------------


# The tangent of f along the one-sample PF-ODE (Song et al. 2023, arXiv 2303.01469, Sec. 6 and Appendix B.2):
# with the one-sample score -(x - x0) / sigma^2 the ODE dx/dsigma = -sigma * score = (x - x0) / sigma = z is the
# straight noising line x = x0 + sigma z, so df/dsigma = d/dsigma f(x0 + sigma z, sigma) = J_x f . z + d_sigma f:
# one JVP with tangents (z, 1).
def ct_tangent(model, x, sigma, z):
    """df/dsigma along x = x0 + sigma z at (x [B, D], sigma [B, 1]); returns (f, df/dsigma), both [B, D], no grad."""
    return module_jvp(model, (x, sigma), (z, torch.ones_like(sigma)))


# The same numbers as torch.func.jvp(module, primals, tangents) under no_grad, bit for bit (tests/test_continuous.py),
# by forward-mode AD with dual numbers, and faster here: an input without a tangent would get a PyTorch "efficient zero
# tensor" whose Python-side shape checks are slow next to this small network. So parameters, buffers and, during the
# call, the float constants of the preconditioning enter as duals with zero tangents (networks.scalings keeps the bits).
_CONSTANTS = ("sigma_data", "sigma_min")


def module_jvp(module, primals, tangents, fn=None):
    """(out, its JVP along tangents) for out = module(*primals), or out = fn(call, *primals) where call(*args) runs
    the module (for a function built around it); computed without grad."""
    like = primals[0]
    with torch.no_grad(), fwAD.dual_level():
        named = itertools.chain(module.named_parameters(), module.named_buffers())
        state = {name: fwAD.make_dual(t, torch.zeros_like(t)) for name, t in named if t.is_floating_point()}
        duals = tuple(fwAD.make_dual(p, t) for p, t in zip(primals, tangents))
        floats = [
            (m, name, getattr(m, name))
            for m in module.modules()
            for name in _CONSTANTS
            if isinstance(getattr(m, name, None), float)
        ]
        zero = torch.zeros((), dtype=like.dtype, device=like.device)
        try:
            for m, name, value in floats:
                setattr(m, name, fwAD.make_dual(torch.tensor(value, dtype=like.dtype, device=like.device), zero))
            call = lambda *args: functional_call(module, state, args)  # noqa: E731
            out, tangent = fwAD.unpack_dual(call(*duals) if fn is None else fn(call, *duals))
        finally:
            for m, name, value in floats:
                setattr(m, name, value)
    return out, tangent


def _lognormal(n, P_mean, P_std, generator, x0):
    return (P_mean + P_std * torch.randn(n, generator=generator, device=x0.device, dtype=x0.dtype)).exp()[:, None]


# Continuous-time CT, stop-gradient form (Song et al. 2023, Theorem 6 / Eq. 29 of Appendix B.2: the limit of
# (N - 1) grad L_CT^N): grad E[lambda(sigma) f_theta(x, sigma) . sg(df/dsigma)], each sample's output paired with its
# OWN tangent (the dot product is over the data dimension only).
#
# Weighting, lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data^2) (our choice, justified): f = c_skip x
# + c_out F, so grad_theta f = c_out grad_theta F. A discrete step of size dsigma = sigma dlog(sigma) gives the target
# an error dsigma df/dsigma, which is (dsigma / c_out) df/dsigma in F's units; weighting every F equally (EDM's
# principle, Karras et al. 2022, Sec. 5) then asks for lambda = sigma / c_out^2, which is the expression above
# (sigma_min -> 0). It is also exactly the weight sCM's loss puts on f . df/dsigma before its prior and adaptive
# weights (cos t / (sigma_data sin t) in TrigFlow time, translated to sigma), so the two recipes differ by tangent
# normalisation and adaptive weighting, not by this factor. The noise levels are log-normal as in iCT/ECT.
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
    weighting="edm",
    tangent_clip=None,
    teacher=None,
    reference_batch=False,
    target=None,
    target_step=0.2,
):
    """Per-sample continuous-time CT loss, [B]; weighting "edm" (above) or "uniform" (lambda = 1).

    tangent_clip: None, or a bound on |sigma df/dsigma| per coordinate (a stabiliser, off by default).
    teacher: None (CT: the one-sample direction z), or a denoiser D(x, sigma [B, 1]) whose ODE direction
    (x - D) / sigma replaces z (continuous-time CD).
    reference_batch: True uses the batch's own estimate losses.batch_denoiser as that D (variance-reduced CT).
    target: None (Song et al. 2023's stop-gradient limit), or a target network (an EMA copy of the model) whose
    friction term (f - f_target) / (target_step sigma) is added to the tangent (the "damped" recipe, below).
    """
    if target is not None and not target_step > 0:
        raise ValueError(f"target_step must be > 0 (the relative step dsigma / sigma), got {target_step}")
    if weighting not in ("edm", "uniform"):
        raise ValueError(f"unknown weighting {weighting!r}; valid choices: edm, uniform")
    sigma = _lognormal(len(x0), P_mean, P_std, generator, x0).clamp(sigma_min, sigma_max)
    z = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x = x0 + sigma * z
    if teacher is not None and reference_batch:
        raise ValueError("give a teacher or reference_batch=True, not both")
    if teacher is not None:  # continuous-time CD (Song et al. 2023, Appendix B.1): the teacher's ODE direction
        with torch.no_grad():
            z = (x - teacher(x, sigma)) / sigma
    if reference_batch:  # the same direction from the batch's denoiser estimate
        z = (x - _reference_target(x, sigma, x0, labels)) / sigma
    f_now, tangent = ct_tangent(model, x, sigma, z)
    if target is not None:  # the target network's friction (see _train_damped)
        with torch.no_grad():
            tangent = tangent + (f_now - target(x, sigma)) / (target_step * sigma)
    f = model(x, sigma)
    if tangent_clip is not None:
        tangent = (sigma * tangent).clamp(-tangent_clip, tangent_clip) / sigma
    sd = model.sigma_data
    lam = (sigma**2 + sd**2) / (sigma * sd**2) if weighting == "edm" else torch.ones_like(sigma)
    pseudo = (lam * (f - f.detach()) * tangent).sum(dim=1)  # value 0, gradient lambda grad f . df/dsigma
    return pseudo + ((sigma * tangent) ** 2).sum(dim=1)


# ----- sCM: TrigFlow (Lu & Song 2024, arXiv 2410.11081) ------------------------------------------------------------


class TrigFlow(Precond):
    """A TrigFlow consistency model f(x, sigma) in EDM units, so it samples through cm_toy.sample_consistency.

    TrigFlow (Lu & Song 2024, Sec. 2 and Eq. 6): x_t = cos t x0 + sin t z with z ~ N(0, sigma_data^2) and
    f(x_t, t) = cos t x_t - sin t sigma_data F(x_t / sigma_data, c_noise(t)). With sigma = sigma_data tan t the
    EDM-noisy x = x0 + sigma eps equals x_t / cos t. Here the time origin moves to t_min = arctan(sigma_min /
    sigma_data), as Song et al. 2023 (Appendix C) shift EDM's scalings by sigma_min: with s = t - t_min,

        f(x_t, t) = (cos s x_t - sin s sigma_data F) / cos t_min,

    which returns the EDM-noisy point at sigma_min and satisfies f(x, sigma_min) = x exactly (s = 0). t_min = 0.002, so
    this is TrigFlow to within 0.2%.

    c_noise(t) = ln(sigma_data tan t) / 4 = ln(sigma) / 4, EDM's, so the raw net is shared with an EDM denoiser
    (TrigFlow's F is minus EDM's F, see trigflow_from_edm). Lu & Song use c_noise = t to avoid the instability of
    large time scalings; here the JVP's tangent in c_noise, cos t sin t dc_noise/dt, is exactly 1/4 at every t, bounded.

    adaptive_weight: also hold sCM's small learned log-weight w_phi(t) (Lu & Song 2024, Sec. 4.2), trained with f.
    """

    def __init__(self, net, *, sigma_data=SIGMA_DATA, sigma_min=SIGMA_MIN, adaptive_weight=False):
        super().__init__(net, sigma_data=sigma_data, sigma_min=sigma_min)
        self.t_min = math.atan(self.sigma_min / self.sigma_data)
        self.weight_net = AdaptiveWeight() if adaptive_weight else None

    def time(self, sigma):
        """t = arctan(sigma / sigma_data)."""
        return torch.atan(sigma / self.sigma_data)

    def F(self, x_t, t, net=None):  # the raw network in TrigFlow units, x_t [B, D], t [B, 1]; net: a stand-in for it
        net = self.net if net is None else net
        return net(x_t / self.sigma_data, (self.sigma_data * torch.tan(t)).log()[:, 0] / 4)

    def f_trig(self, x_t, t):
        """The consistency function in TrigFlow time, returning the EDM-noisy point at sigma_min; [B, D]."""
        s = t - self.t_min
        return (torch.cos(s) * x_t - torch.sin(s) * self.sigma_data * self.F(x_t, t)) / math.cos(self.t_min)

    def forward(self, x, sigma, labels=None):  # EDM units: x [B, D], sigma scalar, [B] or [B, 1] -> [B, D]
        if x.dim() != 2:
            raise ValueError(f"x must have shape [batch, dim], got {list(x.shape)}")
        if labels is not None:
            raise ValueError("TrigFlow models are unconditional; got labels")
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
        sigma = sigma.expand(x.shape[0]) if sigma.numel() == 1 else sigma
        if sigma.shape[0] != x.shape[0]:
            raise ValueError(
                f"sigma must be a scalar or have one value per row of x ({x.shape[0]}), got {sigma.shape[0]}"
            )
        sigma, sd = sigma[:, None], self.sigma_data
        # The same f, written with EDM-unit coefficients so that sigma = sigma_min gives s = 0 and c_skip = 1 exactly:
        # tan s = sigma_data (sigma - sigma_min) / (sigma_data^2 + sigma sigma_min), cos t / cos t_min as a square root.
        s = torch.atan(sd * (sigma - self.sigma_min) / (sd**2 + sigma * self.sigma_min))
        c_skip = torch.cos(s) * ((self.sigma_min**2 + sd**2) / (sigma**2 + sd**2)).sqrt()
        c_out = -torch.sin(s) * sd / math.cos(self.t_min)
        t = self.time(sigma)
        return c_skip * x + c_out * self.F(torch.cos(t) * x, t)


class AdaptiveWeight(nn.Module):
    """w_phi(t): a linear map of smooth features of c_noise = ln(sigma) / 4 (Lu & Song 2024, Sec. 4.2, after EDM2's
    learned uncertainty, Karras et al. 2024). Starts at 0 (weight 1)."""

    def __init__(self):
        super().__init__()
        self.embed = NoiseEmbedding()
        self.linear = nn.Linear(self.embed.dim, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, sigma):  # [B, 1] -> [B]
        return self.linear(self.embed(sigma.log()[:, 0] / 4))[:, 0]


def trigflow_from_edm(edm, *, sigma_min=SIGMA_MIN, adaptive_weight=True):
    """A TrigFlow model initialised from an EDM denoiser D = c_skip x + c_out F_EDM (Precond with sigma_min = 0).

    With sigma = sigma_data tan t: c_skip = cos^2 t, c_out = sigma_data sin t and c_in = cos t / sigma_data, so
    D(x, sigma) = cos t x_t + sin t sigma_data F_EDM(x_t / sigma_data, ln(sigma) / 4): TrigFlow's f with F = -F_EDM (up
    to the t_min shift). The copy negates the last layer, so the TrigFlow model starts as the EDM denoiser.
    """
    if not isinstance(edm, Precond) or edm.is_consistency or isinstance(edm, TrigFlow):
        raise TypeError("init must be an EDM denoiser (a Precond with sigma_min = 0, e.g. from train_edm)")
    net = copy.deepcopy(edm.net)
    last = net.layers[-1]
    with torch.no_grad():
        last.weight.neg_()
        last.bias.neg_()
    return TrigFlow(
        net, sigma_data=edm.sigma_data, sigma_min=sigma_min, adaptive_weight=adaptive_weight
    ).requires_grad_(True)


# The sCM tangent (Lu & Song 2024, Eq. 8 and Algorithm 1), in the t_min-shifted time s = t - t_min:
#     g = -cos^2 s (sigma_data F- - dx_t/dt) - r cos s sin s (x_t + sigma_data dF-/dt),
# which is cos s cos t_min df-/dt with the second term warmed up by r in [0, 1]. cos s sin s dF-/dt is one JVP of F
# with tangents (cos s sin s dx_t/dt, cos s sin s). F- = sg(F_theta): no target EMA.
def scm_tangent(model, x_t, t, dxt_dt, r=1.0):
    """(F, g) at (x_t [B, D], t [B, 1]) with velocity dx_t/dt [B, D]; no grad, g not normalised."""
    s = t - model.t_min
    cs = torch.cos(s) * torch.sin(s)
    F, dF = module_jvp(model.net, (x_t, t), (cs * dxt_dt, cs), fn=lambda net, x_, t_: model.F(x_, t_, net))
    g = -(torch.cos(s) ** 2) * (model.sigma_data * F - dxt_dt) - r * (cs * x_t + model.sigma_data * dF)
    return F, g


# sCT / sCD loss (Lu & Song 2024, Eq. 8-9, Algorithm 1): tangent warm-up r = min(1, step / warmup_steps), tangent
# normalisation g / (||g|| + c), adaptive weighting e^-w(t) ||F - F- - g||^2 / D + w(t), optional prior weight 1/sigma
# on the squared term (as in NVlabs/FastGen's sCM). Time t = arctan(sigma / sigma_data), ln sigma ~ N(P_mean, P_std^2).
def scm_loss(
    model,
    x0,
    *,
    step=0,
    generator=None,
    labels=None,
    P_mean=-0.4,
    P_std=1.6,
    warmup_steps=1000,
    c=0.1,
    prior_weighting=False,
    teacher=None,
    sigma_max=SIGMA_MAX,
):
    """Per-sample sCT loss, or sCD with a teacher denoiser D(x, sigma [B, 1]) (EDM units); [B]. model: a TrigFlow."""
    sd = model.sigma_data
    sigma = _lognormal(len(x0), P_mean, P_std, generator, x0).clamp(2 * model.sigma_min, sigma_max)  # s > 0
    t = model.time(sigma)
    z = sd * torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_t = torch.cos(t) * x0 + torch.sin(t) * z
    if teacher is None:
        dxt_dt = torch.cos(t) * z - torch.sin(t) * x0  # sCT: the one-sample velocity
    else:
        with torch.no_grad():  # sCD: the teacher's velocity (cos t x_t - D(x_t / cos t, sigma)) / sin t
            dxt_dt = (torch.cos(t) * x_t - teacher(x_t / torch.cos(t), sigma)) / torch.sin(t)
    r = min(1.0, step / warmup_steps) if warmup_steps else 1.0
    _, g = scm_tangent(model, x_t, t, dxt_dt, r)
    g = g / (g.norm(dim=1, keepdim=True) + c)
    F = model.F(x_t, t)
    sq = ((F - F.detach() - g) ** 2).mean(dim=1)  # mean over D: the paper's 1/D
    weight = 1 / sigma[:, 0] if prior_weighting else torch.ones_like(sigma[:, 0])
    if model.weight_net is None:
        return weight * sq
    w = model.weight_net(sigma)
    return weight * torch.exp(-w) * sq + w


# ----- the recipes ----------------------------------------------------------------------------------------------------


def train_continuous_ct(task, *, recipe="damped", init=None, seed=0, **overrides):
    """Continuous-time consistency training; returns the EMA consistency model (samples with sample_consistency), with
    `.history` (a TrainResult).

    recipe: "damped" (the default, best of the three in benchmarks/results/continuous.md: Song et al. 2023's JVP
    objective with a target network's friction term, see _train_damped), "song2023" (the JVP objective of Song et al.
    2023, Sec. 6, as published: the stop-gradient limit) or "scm" (sCT, Lu & Song 2024, TrigFlow; with `teacher=` a
    denoiser D(x, sigma) such as an EDM model it is sCD). "damped" and "song2023" also take `teacher=` (continuous-time
    CD).
    init: a trained EDM denoiser to start from; None trains one first (`edm_steps` of it; edm_steps=0 starts from
    fresh weights). overrides: the recipe's keyword arguments
    (see _train_damped, _train_song2023 and _train_scm).
    """
    recipes = {"damped": _train_damped, "song2023": _train_song2023, "scm": _train_scm}
    if recipe not in recipes:
        raise ValueError(f"unknown recipe {recipe!r}; valid choices: {', '.join(recipes)}")
    return recipes[recipe](get_dataset(task), init=init, seed=seed, **overrides)


def _edm_init(task, init, seed, edm_steps, hidden, depth, progress):
    if init is None and edm_steps:
        init = train_edm(task, seed=seed, steps=edm_steps, hidden=hidden, depth=depth, progress=progress)
        return init, init.history.seconds
    if init is not None and not (isinstance(init, Precond) and not init.is_consistency):
        raise TypeError("init must be None or an EDM denoiser (a Precond with sigma_min = 0, e.g. from train_edm)")
    return init, 0.0


def _finish(result, pretrain_seconds):
    result.pretrain_seconds = pretrain_seconds
    result.ema.history = result
    return result.ema.requires_grad_(False)


def _train_song2023(
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
    weighting="edm",
    tangent_clip=None,
    edm_steps=4000,
    hidden=128,
    depth=3,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    teacher=None,
    reference_batch=None,
    target_decay=None,
    target_step=0.2,
    progress=True,
    desc=None,
):
    # Song et al. 2023 continuous-time CT (Sec. 6; their CIFAR-10 JAX code fine-tunes an EDM model with lr 1e-3).
    # steps = 8,000: the error is propagation-limited (see CONTINUOUS_RECIPES). teacher: continuous-time CD (Appendix
    # B.1). reference_batch (None: True for CT, False for CD): the tangent's direction (x - D) / sigma from
    # losses.batch_denoiser, not the one-sample z, better on every seed task (benchmarks/results/continuous.md, rows
    # "one-sample z").
    if reference_batch is None:
        reference_batch = teacher is None
    init, pretrain_seconds = _edm_init(task, init, seed, edm_steps, hidden, depth, progress)
    model = consistency_model(task.dim, init=init, hidden=hidden, depth=depth, sigma_min=sigma_min, seed=seed)
    target = None if target_decay is None else copy.deepcopy(model).requires_grad_(False)
    loss = functools.partial(
        continuous_ct_loss,
        P_mean=P_mean,
        P_std=P_std,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        weighting=weighting,
        tangent_clip=tangent_clip,
        reference_batch=reference_batch,
        teacher=None if teacher is None else _as_denoiser(teacher, task),
        target=target,
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
        target=target,
        target_decay=None if target is None else lambda step: target_decay,
        lr_schedule=cosine_decay(steps),
        seed=seed,
        progress=progress,
        desc=desc,
    )
    return _finish(result, pretrain_seconds)


# The damped recipe (our addition to Song et al. 2023's continuous CT). Discrete CT with a target network f- (an EMA of
# the model) has the gradient grad f . [f(x', sigma') - f-(x, sigma)], x' one step dsigma above x; to first order that
# is the tangent plus a friction term (f - f-) / dsigma pulling the model towards its own recent past. The continuous
# limit (dsigma -> 0, f- = f) drops the friction, and without it a good model is not a stable point: a well-trained
# discrete CT model, trained on with the continuous loss, gets worse. This recipe keeps the JVP tangent and puts the
# friction back at a finite relative step dsigma = target_step sigma, with the batch recipe's target decay.
def _train_damped(task, *, lr=3e-3, target_decay=0.95, target_step=0.2, **kwargs):
    # lr 3e-3: with the friction, 1e-3 learns too slowly. target_step 0.2: better than 0.1 on most seed tasks.
    kind = "CT" if kwargs.get("teacher") is None else "CD"
    return _train_song2023(
        task, lr=lr, target_decay=target_decay, target_step=target_step, desc=f"continuous {kind} (damped)", **kwargs
    )


def _train_scm(
    task,
    *,
    init=None,
    seed=0,
    steps=4000,
    batch_size=256,
    lr=1e-3,
    ema_decay=0.999,
    P_mean=-0.4,
    P_std=1.6,
    warmup_steps=1000,
    c=0.1,
    prior_weighting=False,
    adaptive_weight=True,
    teacher=None,
    edm_steps=4000,
    hidden=128,
    depth=3,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    progress=True,
):
    # sCT (Lu & Song 2024, Algorithm 1; CIFAR-10: P_mean = -1.0, P_std = 1.4 for sigma_data = 0.5, warm-up 10k of
    # 350k+ steps, c = 0.1, RAdam lr 1e-4, batch 512); teacher: sCD. Toy settings: continuous_ct_loss's log-normal,
    # 4,000 steps of 256 at lr 1e-3 (Adam), warm-up 1,000, from the EDM model; other lrs and batches did no better.
    init, pretrain_seconds = _edm_init(task, init, seed, edm_steps, hidden, depth, progress)
    if init is None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = TrigFlow(MLP(task.dim, hidden, depth), sigma_min=sigma_min, adaptive_weight=adaptive_weight)
    else:
        model = trigflow_from_edm(init, sigma_min=sigma_min, adaptive_weight=adaptive_weight)
    if isinstance(teacher, nn.Module):
        teacher = copy.deepcopy(teacher).requires_grad_(False)
    loss = functools.partial(
        scm_loss,
        P_mean=P_mean,
        P_std=P_std,
        warmup_steps=warmup_steps,
        c=c,
        prior_weighting=prior_weighting,
        teacher=teacher,
        sigma_max=sigma_max,
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
        desc="sCD" if teacher is not None else "sCT",
    )
    return _finish(result, pretrain_seconds)
