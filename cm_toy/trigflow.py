"""sCM: continuous-time consistency models in TrigFlow form (Lu & Song 2024, arXiv 2410.11081), written in EDM units so
they sample with cm_toy.sample_consistency, and their training recipe (sCT; sCD with a teacher)."""

import copy
import functools
import math

import torch
from torch import nn

from .data import get_dataset
from .edm import pretrained
from .networks import MLP, NoiseEmbedding, Precond, module_jvp
from .schedules import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, cosine_decay
from .train import train

__all__ = ["TrigFlow", "trigflow_from_edm", "scm_tangent", "scm_loss", "train_scm", "lognormal"]


def lognormal(n, P_mean, P_std, generator, x0):
    """Noise levels [n, 1] with ln sigma ~ N(P_mean, P_std^2), in x0's dtype and device."""
    return (P_mean + P_std * torch.randn(n, generator=generator, device=x0.device, dtype=x0.dtype)).exp()[:, None]


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
    It also holds sCM's small learned log-weight w_phi(t) (Lu & Song 2024, Sec. 4.2), trained with f.
    """

    def __init__(self, net, *, sigma_data=SIGMA_DATA, sigma_min=SIGMA_MIN):
        super().__init__(net, sigma_data=sigma_data, sigma_min=sigma_min)
        self.t_min = math.atan(self.sigma_min / self.sigma_data)
        params = list(net.parameters())
        self.weight_net = AdaptiveWeight().to(params[0]) if params else AdaptiveWeight()  # the net's device and dtype

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


def trigflow_from_edm(edm, *, sigma_min=SIGMA_MIN):
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
    return TrigFlow(net, sigma_data=edm.sigma_data, sigma_min=sigma_min).requires_grad_(True)


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
# normalisation g / (||g|| + c), adaptive weighting e^-w(t) ||F - F- - g||^2 / D + w(t). Time t = arctan(sigma /
# sigma_data), ln sigma ~ N(P_mean, P_std^2).
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
    teacher=None,
    sigma_max=SIGMA_MAX,
):
    """Per-sample sCT loss, or sCD with a teacher denoiser D(x, sigma [B, 1]) (EDM units); [B]. model: a TrigFlow."""
    sd = model.sigma_data
    sigma = lognormal(len(x0), P_mean, P_std, generator, x0).clamp(2 * model.sigma_min, sigma_max)  # s > 0
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
    w = model.weight_net(sigma)
    return torch.exp(-w) * sq + w


def train_scm(
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
    teacher=None,
    edm_steps=4000,
    hidden=128,
    depth=3,
    sigma_min=SIGMA_MIN,
    sigma_max=SIGMA_MAX,
    progress=True,
):
    """sCT (Lu & Song 2024, arXiv 2410.11081, Algorithm 1; CIFAR-10: P_mean = -1.0, P_std = 1.4 for sigma_data = 0.5,
    warm-up 10k of 350k+ steps, c = 0.1, RAdam lr 1e-4, batch 512); with a teacher denoiser D(x, sigma) it is sCD.
    Returns a TrainResult. Toy settings: the log-normal of continuous_ct_loss, 4,000 steps of 256 at lr 1e-3 (Adam),
    warm-up 1,000, from an EDM model (init, or edm_steps of train_edm first; edm_steps=0: fresh weights)."""
    task = get_dataset(task)
    init, pretrain_seconds = pretrained(
        task, init, steps=edm_steps, seed=seed, hidden=hidden, depth=depth, progress=progress
    )
    if init is None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = TrigFlow(MLP(task.dim, hidden, depth), sigma_min=sigma_min)
    else:
        model = trigflow_from_edm(init, sigma_min=sigma_min)
    if isinstance(teacher, nn.Module):
        teacher = copy.deepcopy(teacher).requires_grad_(False)
    loss = functools.partial(
        scm_loss,
        P_mean=P_mean,
        P_std=P_std,
        warmup_steps=warmup_steps,
        c=c,
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
    result.pretrain_seconds = pretrain_seconds
    return result
