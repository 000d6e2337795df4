"""The raw network F and the preconditioning that turns it into a denoiser D or a consistency function f."""

import itertools
import math
import os

import torch
import torch.autograd.forward_ad as fwAD
from torch import nn
from torch.func import functional_call

__all__ = ["MLP", "Precond", "scalings", "module_jvp", "save_model", "load_model", "NoiseEmbedding", "FourierEmbedding"]
__all__ += ["InputFeatures", "EMBEDDINGS"]


class NoiseEmbedding(nn.Module):
    """Smooth features of c_noise: the value itself plus low-frequency sines and cosines.

    c_noise = ln(sigma) / 4 spans about [-1.6, 1.1] for sigma in [0.002, 80]; frequencies up to a few cycles over that
    range keep the network smooth in sigma (the original's Fourier scale of 30 makes it jagged).
    """

    def __init__(self, num_frequencies=8, max_frequency=4.0):  # cycles per unit of c_noise
        super().__init__()
        freqs = torch.logspace(math.log10(0.25), math.log10(max_frequency), num_frequencies)
        self.register_buffer("freqs", 2 * math.pi * freqs)
        self.dim = 1 + 2 * num_frequencies

    def forward(self, c_noise):  # [B] -> [B, dim]
        angles = c_noise[:, None] * self.freqs
        return torch.cat([c_noise[:, None], angles.sin(), angles.cos()], dim=1)


# Gaussian random Fourier features of the noise level (Tancik et al. 2020, arXiv 2006.10739), as in the original toy
# repository: c_noise -> [sin(2 pi w c_noise), cos(2 pi w c_noise)] with w ~ N(0, scale^2) drawn once and frozen
# (scale 30, two frequencies there; CIFAR-10 consistency models use scale 16, iCT 0.02).
class FourierEmbedding(nn.Module):
    """Random Fourier features of c_noise only (no raw c_noise): with a large scale, nearby noise levels map to far
    apart features, so the network must learn a jagged function of sigma."""

    def __init__(self, num_frequencies=2, scale=30.0):
        super().__init__()
        self.register_buffer("freqs", 2 * math.pi * scale * torch.randn(num_frequencies))
        self.dim = 2 * num_frequencies

    def forward(self, c_noise):  # [B] -> [B, dim]
        angles = c_noise[:, None] * self.freqs
        return torch.cat([angles.sin(), angles.cos()], dim=1)


EMBEDDINGS = ("smooth", "fourier")


# Gaussian Fourier features of the network's input (Tancik et al. 2020, arXiv 2006.10739):
# x_in -> [x_in, sin(2 pi x_in B), cos(2 pi x_in B)], B [D, m] with entries ~ N(0, scale^2), drawn once and frozen.
class InputFeatures(nn.Module):
    """Fourier features of the scaled input x_in = c_in(sigma) x, so the MLP can learn sharp steps in x.

    A consistency function at high noise is a staircase in x_in (every stretch of noise that lands in one mode maps
    there, and the stretches that land in the gaps are narrow), and a plain SiLU MLP learns steep edges slowly (its
    spectral bias, Tancik et al. 2020). The frequencies come from a fixed generator, so every model has the same ones.
    """

    def __init__(self, dim=1, num_features=16, scale=1.0):  # scale: standard deviation of B, in cycles per unit of x_in
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("B", 2 * math.pi * scale * torch.randn(dim, num_features, generator=generator))
        self.dim = dim + 2 * num_features

    def forward(self, x_in):  # [B, D] -> [B, D + 2 m]
        angles = x_in @ self.B
        return torch.cat([x_in, angles.sin(), angles.cos()], dim=1)


class MLP(nn.Module):
    """F(x_in, c_noise[, label]): an MLP on [x_in, embedding(c_noise)] with SiLU units.

    With `num_classes > 0` it is class-conditional: label `num_classes` means "no label" (for classifier-free guidance).
    embedding: "smooth" (NoiseEmbedding, the default) or "fourier" (FourierEmbedding with `fourier_scale`, whose
    frequencies are drawn from torch's global generator: seed it first).
    x_features, x_scale: Fourier features of the input (InputFeatures); x_features=0 feeds x_in alone, as the original
    toy repository did.
    """

    def __init__(
        self,
        dim=1,
        hidden=128,
        depth=3,
        num_classes=0,
        *,
        embedding="smooth",
        fourier_scale=30.0,
        x_features=16,
        x_scale=1.0,
    ):
        super().__init__()
        if embedding not in EMBEDDINGS:
            raise ValueError(f"unknown embedding {embedding!r}; valid choices: {', '.join(EMBEDDINGS)}")
        self.dim, self.hidden, self.depth, self.num_classes = dim, hidden, depth, num_classes
        if int(x_features) != x_features or x_features < 0:
            raise ValueError(f"x_features must be an integer >= 0 (0: no input features), got {x_features}")
        self.embedding, self.fourier_scale = embedding, float(fourier_scale)
        self.x_features, self.x_scale = int(x_features), float(x_scale)
        self.embed = NoiseEmbedding() if embedding == "smooth" else FourierEmbedding(scale=fourier_scale)
        self.label_embed = nn.Embedding(num_classes + 1, self.embed.dim) if num_classes else None
        self.features = InputFeatures(dim, self.x_features, x_scale) if self.x_features else None
        layers, width = [], (self.features.dim if self.features else dim) + self.embed.dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, dim))
        self.layers = nn.Sequential(*layers)

    def config(self):
        config = dict(
            dim=self.dim,
            hidden=self.hidden,
            depth=self.depth,
            num_classes=self.num_classes,
            x_features=self.x_features,
            x_scale=self.x_scale,
        )
        if self.embedding != "smooth":  # the default's config (and saved files) stay as they were
            config.update(embedding=self.embedding, fourier_scale=self.fourier_scale)
        return config

    def forward(self, x_in, c_noise, labels=None):  # [B, D], [B], [B] -> [B, D]
        emb = self.embed(c_noise)
        if self.label_embed is not None:
            if labels is None:
                labels = torch.full_like(c_noise, self.num_classes, dtype=torch.long)
            emb = emb + self.label_embed(labels)
        if self.features is not None:
            x_in = self.features(x_in)
        return self.layers(torch.cat([x_in, emb], dim=1))


# Preconditioning (Karras et al. 2022, Table 1) shifted by sigma_min (Song et al. 2023, Appendix C).
def scalings(sigma, sigma_data, sigma_min=0.0):
    """(c_skip, c_out, c_in, c_noise); with sigma_min = 0 these are exactly EDM's."""
    # Each shared term computed once, and a / b for a float a written as Python evaluates it, b.reciprocal() * a, so
    # that the same lines run fast and bit-identically on dual numbers (module_jvp).
    shifted, norm = sigma - sigma_min, (sigma**2 + sigma_data**2).sqrt()
    c_skip = (shifted**2 + sigma_data**2).reciprocal() * sigma_data**2
    c_out = shifted * sigma_data / norm
    c_in = norm.reciprocal()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


class Precond(nn.Module):
    """c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma)).

    sigma_min = 0 gives the EDM denoiser D(x, sigma). sigma_min > 0 gives a consistency function f(x, sigma) with
    c_skip(sigma_min) = 1 and c_out(sigma_min) = 0, so f(x, sigma_min) = x holds exactly, by construction.
    """

    def __init__(self, net, *, sigma_data=1.0, sigma_min=0.0, class_means=None, class_stds=None):
        super().__init__()
        self.net, self.sigma_data, self.sigma_min = net, float(sigma_data), float(sigma_min)
        # A class-conditional model may carry its classes' Gaussians N(mu_k, s_k^2) (means [K, D], stds [K]) as
        # buffers: they give the class-aware start of conditional sampling (cm_toy.guidance.class_prior_sample).
        if (class_means is None) != (class_stds is None):
            raise ValueError("give class_means and class_stds together, or neither")
        if class_means is not None:
            num_classes = getattr(net, "num_classes", 0)
            means = torch.as_tensor(class_means, dtype=torch.float32)
            means = means[:, None] if means.dim() == 1 else means
            stds = torch.as_tensor(class_stds, dtype=torch.float32).reshape(-1)
            if (
                not num_classes
                or list(means.shape) != [num_classes, net.dim]
                or len(stds) != num_classes
                or not (stds > 0).all()
            ):
                raise ValueError(
                    f"class_means must be [num_classes, dim] and class_stds [num_classes] (> 0) for a "
                    f"class-conditional net; got {list(means.shape)} and {stds.tolist()} for "
                    f"num_classes={num_classes}, dim={net.dim}"
                )
            self.register_buffer("class_means", means)
            self.register_buffer("class_stds", stds)

    @property
    def is_consistency(self):
        return self.sigma_min > 0

    def forward(self, x, sigma, labels=None):  # x [B, D] or [B, ...], sigma scalar, [B] or [B, 1] -> x's shape
        """f(x, sigma) for x [B, D], or x [B, ...] whose trailing dimensions hold D values per row (an image-shaped
        [B, 1, 1, 1] for D = 1), with one noise level per row broadcast over them. The preconditioning runs in x's
        dtype, the network in its weights' dtype (float32 unless converted, e.g. with .double()); the result has x's
        shape and dtype."""
        if x.dim() < 2:
            raise ValueError(f"x must have shape [batch, dim] or [batch, ...], got {list(x.shape)}")
        batch, dim = x.shape[0], math.prod(x.shape[1:])
        if dim != getattr(self.net, "dim", dim):
            raise ValueError(
                f"x holds {dim} values per row (shape {list(x.shape)}) but the network takes dim={self.net.dim}"
            )
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
        sigma = sigma.expand(batch) if sigma.numel() == 1 else sigma
        if sigma.shape[0] != batch:
            raise ValueError(f"sigma must be a scalar or have one value per row of x ({batch}), got {sigma.shape[0]}")
        c_skip, c_out, c_in, c_noise = scalings(
            sigma.reshape(batch, *[1] * (x.dim() - 1)), self.sigma_data, self.sigma_min
        )
        dtype = next(self.net.parameters(), x).dtype
        args = ((c_in * x).reshape(batch, dim).to(dtype), c_noise.reshape(batch).to(dtype))
        F = self.net(*args, labels) if labels is not None else self.net(*args)
        return c_skip * x + c_out * F.reshape(x.shape).to(x.dtype)


# Forward-mode JVP of a module: the same numbers as torch.func.jvp(module, primals, tangents) under no_grad, bit for bit
# (tests/test_continuous.py), by forward-mode AD with dual numbers, and faster here: an input without a tangent would
# get a PyTorch "efficient zero tensor" whose Python-side shape checks are slow next to this small network. So
# parameters, buffers and, during the call, the float constants of the preconditioning enter as duals with zero tangents
# (scalings keeps the bits).
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


def save_model(model, path):
    """Save a Precond(MLP) to `path` atomically: write a temporary file, then rename it over the target."""
    path = os.fspath(path)
    state = dict(
        net=model.net.config(), sigma_data=model.sigma_data, sigma_min=model.sigma_min, state_dict=model.state_dict()
    )
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_model(path, map_location="cpu"):
    """Load a model saved by save_model (weights_only=True: no code is executed from the file)."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    config = dict(x_features=0) | state["net"]  # files saved before input features existed had none
    weights = state["state_dict"]
    model = Precond(
        MLP(**config),
        sigma_data=state["sigma_data"],
        sigma_min=state["sigma_min"],
        class_means=weights.get("class_means"),
        class_stds=weights.get("class_stds"),
    )
    model.load_state_dict(state["state_dict"])
    return model.requires_grad_(False)
