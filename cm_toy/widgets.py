"""Interactive explorers for the notebooks: sliders over the plotting functions (ipywidgets is imported lazily)."""

import matplotlib.pyplot as plt
import numpy as np
import torch

from .consistency import sample_consistency
from .data import get_dataset
from .drift import GRIDS, ORIGINAL, multistep_grid
from .edm import sample_edm
from .exact import exact_consistency
from .guidance import class_prior_sample, exact_guided_denoiser, sample_labels
from .metrics import evaluate
from .plots import plot_classes, plot_curves, plot_density, plot_scatter
from .samplers import heun_sampler
from .schedules import karras_sigmas

__all__ = ["denoiser_figure", "explore_denoiser", "consistency_figure", "explore_consistency", "multistep_figure"]
__all__ += ["explore_multistep", "drift_figure", "explore_drift", "noisy_2d_figure", "explore_noisy_2d"]
__all__ += ["guidance_figure", "explore_guidance"]


def denoiser_figure(task, sigma, model=None, *, lim=4.0, num=400):
    """Two panels at one noise level: the noisy marginal p_sigma, and the exact (and learned) denoiser."""
    task = get_dataset(task)
    x = torch.linspace(-lim, lim, num)[:, None]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.5))
    plot_curves(
        x,
        {"p_data": task.pdf(x), f"p_σ, σ={sigma:.3g}": task.pdf(x, sigma)},
        ax=a,
        ylabel="density",
        title="noisy marginal",
    )
    curves = {"identity": x, "exact D(x, σ)": task.denoise(x, sigma)}
    if model is not None:
        with torch.no_grad():
            device = next(model.parameters()).device
            curves["learned D(x, σ)"] = model(x.to(device), torch.tensor(float(sigma), device=device)).cpu()
    styles = {"identity": dict(color="gray", ls=":"), "learned D(x, σ)": dict(ls="--")}
    plot_curves(x, curves, ax=b, ylabel="denoised x", title=f"denoiser at σ = {sigma:.3g}", styles=styles)
    b.set_ylim(-lim, lim)
    fig.tight_layout()
    return fig


def explore_denoiser(task, model=None, *, sigma_min=0.002, sigma_max=80.0):
    """A log-scale slider over sigma redrawing denoiser_figure."""
    import ipywidgets as widgets

    slider = widgets.FloatLogSlider(
        value=0.5,
        base=10,
        min=np.log10(sigma_min),
        max=np.log10(sigma_max),
        step=0.05,
        description="σ",
        continuous_update=False,
    )
    return widgets.interact(lambda sigma: plt.show(denoiser_figure(task, sigma, model)), sigma=slider)


def consistency_figure(task, sigma, models=None, *, sigma_min=0.002, num=400):
    """Two panels at one noise level sigma: the exact consistency function f*(x, sigma) and learned ones over the
    typical range of x ~ p_sigma, and their signed errors f - f* (positive on the right = pushing samples outward)."""
    task = get_dataset(task)
    spread = float((task.std() ** 2 + sigma**2).sqrt().max())
    center = float(task.mean()[0])
    x = torch.linspace(center - 3 * spread, center + 3 * spread, num)[:, None]
    exact = exact_consistency(task, x.double(), sigma, sigma_min=sigma_min).float()
    curves, errors = {"exact f*(x, σ)": exact}, {}
    for name, model in (models or {}).items():
        with torch.no_grad():
            device = next(model.parameters()).device
            out = model(x.to(device), torch.tensor(float(sigma), device=device)).cpu()
        curves[name] = out
        errors[name] = out - exact
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.5))
    plot_curves(
        x,
        curves,
        ax=a,
        ylabel="f(x, σ)",
        title=f"consistency function at σ = {sigma:.3g}",
        styles={"exact f*(x, σ)": dict(color="black", lw=2)},
    )
    if errors:
        plot_curves(x, errors, ax=b, ylabel="f - f*", title="signed error")
        b.axhline(0, color="gray", lw=0.8, ls=":")
    else:
        b.set_axis_off()
    fig.tight_layout()
    return fig


def explore_consistency(task, models=None, *, sigma_min=0.002, sigma_max=80.0):
    """A log-scale slider over sigma redrawing consistency_figure."""
    import ipywidgets as widgets

    slider = widgets.FloatLogSlider(
        value=1.0,
        base=10,
        min=np.log10(sigma_min * 1.5),
        max=np.log10(sigma_max),
        step=0.05,
        description="σ",
        continuous_update=False,
    )
    return widgets.interact(lambda sigma: plt.show(consistency_figure(task, sigma, models)), sigma=slider)


def multistep_figure(task, models, num_steps, *, n=10_000, seed=0, num=400):
    """Histograms of multistep consistency samples (default sigmas) of each model against the target density."""
    task = get_dataset(task)
    lo = float((task.means[:, 0] - 4 * task.stds).min())
    hi = float((task.means[:, 0] + 4 * task.stds).max())
    x = torch.linspace(lo, hi, num)[:, None]
    fig, axes = plt.subplots(1, len(models), figsize=(4.5 * len(models), 3.3), squeeze=False)
    for ax, (name, model) in zip(axes[0], models.items()):
        samples = sample_consistency(model, n, num_steps=num_steps, seed=seed)
        plot_density(x, task.pdf(x), samples, ax=ax, title=f"{name}, {num_steps} step(s)")
    fig.tight_layout()
    return fig


def explore_multistep(task, models, *, max_steps=8):
    """A slider over the number of sampling steps redrawing multistep_figure."""
    import ipywidgets as widgets

    slider = widgets.IntSlider(value=1, min=1, max=max_steps, description="steps", continuous_update=False)
    return widgets.interact(lambda steps: plt.show(multistep_figure(task, models, steps)), steps=slider)


def drift_figure(
    task, functions, num_steps, grid="linear", *, start_std=ORIGINAL["start_std"], n=10_000, seed=0, num=400
):
    """Histograms of multistep samples from each consistency function (name -> model or cm_toy.ExactConsistency) over
    the chosen grid of cm_toy.drift.multistep_grid (levels from 1 down, the original setting), against the target."""
    task = get_dataset(task)
    lo = float((task.means[:, 0] - 6 * task.stds).min()) - 3  # wide: drifting samples land far outside the modes
    hi = float((task.means[:, 0] + 6 * task.stds).max()) + 3
    x = torch.linspace(lo, hi, num)[:, None]
    fig, axes = plt.subplots(1, len(functions), figsize=(4.5 * len(functions), 3.3), squeeze=False)
    for ax, (name, f) in zip(axes[0], functions.items()):
        sigmas = multistep_grid(grid, num_steps, f.sigma_min)
        samples = sample_consistency(f, n, sigmas=sigmas, data_std=start_std, seed=seed)
        m = evaluate(samples, task)
        plot_density(
            x,
            task.pdf(x),
            samples,
            ax=ax,
            title=f"{name}\n{num_steps} step(s), {grid}: W1 {m['w1']:.3f}, std ratio {m['std_ratio']:.2f}",
        )
    fig.tight_layout()
    return fig


def explore_drift(task, functions, *, max_steps=19, n=4000):
    """Sliders over the number of steps and the grid, redrawing drift_figure."""
    import ipywidgets as widgets

    steps = widgets.IntSlider(value=4, min=1, max=max_steps, description="steps", continuous_update=False)
    grid = widgets.Dropdown(options=GRIDS, value="linear", description="grid")
    return widgets.interact(
        lambda steps, grid: plt.show(drift_figure(task, functions, steps, grid, n=n)), steps=steps, grid=grid
    )


def noisy_2d_figure(task, sigma, *, n=2000, seed=0, lim=4.5):
    """A 2D task at one noise level: samples of p_sigma, and where the exact denoiser sends them (the posterior means
    E[x0 | x], which gather on the modes as sigma falls)."""
    task = get_dataset(task)
    g = torch.Generator().manual_seed(seed)
    x0 = task.sample(n, g)
    x = x0 + sigma * torch.randn(x0.shape, generator=g)
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 4))
    plot_scatter(x, reference=x0, ax=a, title=f"x = x₀ + σ z, σ = {sigma:.3g}", lim=(-lim, lim))
    plot_scatter(task.denoise(x, sigma), reference=x0, ax=b, title="exact D(x, σ)", lim=(-lim, lim))
    fig.tight_layout()
    return fig


def explore_noisy_2d(task, *, sigma_min=0.01, sigma_max=10.0):
    """A log-scale slider over sigma redrawing noisy_2d_figure."""
    import ipywidgets as widgets

    slider = widgets.FloatLogSlider(
        value=0.5,
        base=10,
        min=np.log10(sigma_min),
        max=np.log10(sigma_max),
        step=0.05,
        description="σ",
        continuous_update=False,
    )
    return widgets.interact(lambda sigma: plt.show(noisy_2d_figure(task, sigma)), sigma=slider)


def guidance_figure(task, guidance, model=None, *, n=3000, num_steps=24, seed=0, lim=3.0):
    """Class-conditional samples of a 1D task under classifier-free guidance strength w: the exact guided PF-ODE
    (left) and, if given, a conditional EDM model (right), over each class's exact weighted density."""
    task = get_dataset(task)
    labels = sample_labels(task, n, seed=seed)
    noise = torch.randn(n, 1, generator=torch.Generator().manual_seed(seed))
    noise = class_prior_sample(task, labels, noise, 80.0) / 80.0  # each class starts from itself, as sample_edm does
    sigmas = torch.cat([karras_sigmas(num_steps, 0.002, 80.0, 7.0), torch.zeros(1)])
    runs = {"exact guided ODE": heun_sampler(exact_guided_denoiser(task, labels, guidance), noise, sigmas)}
    if model is not None:
        runs["conditional EDM"] = sample_edm(
            model, n, num_steps=num_steps, labels=labels, guidance=guidance, seed=seed
        ).cpu()
    x = torch.linspace(-lim, lim, 400)[:, None]
    densities = [task.weights[k] * task.component(k).pdf(x) for k in range(task.num_components)]
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 3.5), squeeze=False)
    for ax, (name, samples) in zip(axes[0], runs.items()):
        plot_classes(
            x,
            densities,
            [samples[labels == k] for k in range(task.num_components)],
            ax=ax,
            title=f"{name}, w = {guidance:g}",
        )
    fig.tight_layout()
    return fig


def explore_guidance(task, model=None, *, max_guidance=6.0):
    """A slider over the guidance strength w redrawing guidance_figure."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(
        value=1.0, min=0.0, max=max_guidance, step=0.25, description="w", continuous_update=False
    )
    return widgets.interact(lambda w: plt.show(guidance_figure(task, w, model)), w=slider)
