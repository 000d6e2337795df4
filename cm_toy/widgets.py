"""Interactive explorers for the notebooks: sliders over the plotting functions (ipywidgets is imported lazily)."""
import matplotlib.pyplot as plt
import numpy as np
import torch

from .data import get_dataset
from .plots import plot_curves

__all__ = ["denoiser_figure", "explore_denoiser"]


def denoiser_figure(task, sigma, model=None, *, lim=4.0, num=400):
    """Two panels at one noise level: the noisy marginal p_sigma, and the exact (and learned) denoiser."""
    task = get_dataset(task)
    x = torch.linspace(-lim, lim, num)[:, None]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.5))
    plot_curves(x, {"p_data": task.pdf(x), f"p_σ, σ={sigma:.3g}": task.pdf(x, sigma)}, ax=a, ylabel="density",
                title="noisy marginal")
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

    slider = widgets.FloatLogSlider(value=0.5, base=10, min=np.log10(sigma_min), max=np.log10(sigma_max), step=0.05,
                                    description="σ", continuous_update=False)
    return widgets.interact(lambda sigma: plt.show(denoiser_figure(task, sigma, model)), sigma=slider)
