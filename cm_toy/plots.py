"""Matplotlib figures. Every function takes arrays (computed by the caller), an optional `ax`, and returns the axes or
figure; none samples, trains or evaluates anything."""

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_density", "plot_trajectories", "plot_sampling", "plot_losses", "plot_curves", "plot_scatter"]
__all__ += ["plot_floor_ratio", "plot_trajectories_2d", "plot_classes"]


def _np(a):
    if a is None:
        return None
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=float)


def _axes(ax, figsize=(5, 3.5)):
    return plt.subplots(figsize=figsize)[1] if ax is None else ax


def plot_density(
    x,
    density,
    samples=None,
    *,
    ax=None,
    bins=120,
    label="target density",
    sample_label="samples",
    title=None,
    xlabel="x",
):
    """A density curve, with a histogram of samples (normalised to a density) behind it."""
    ax = _axes(ax)
    x, density = _np(x).reshape(-1), _np(density).reshape(-1)
    if samples is not None:
        ax.hist(
            _np(samples).reshape(-1),
            bins=bins,
            range=(x.min(), x.max()),
            density=True,
            alpha=0.45,
            color="tab:blue",
            label=sample_label,
        )
    ax.plot(x, density, color="black", lw=1.5, label=label)
    ax.set(xlabel=xlabel, ylabel="density", title=title)
    ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_trajectories(levels, trajectory, *, ax=None, max_lines=100, title=None, ylim=None, xlabel="noise level σ"):
    """Lines of x against the noise level for a few samples; trajectory is [T, n, 1], levels [T] (log axis, σ falling
    from left to right)."""
    ax = _axes(ax)
    levels, traj = _np(levels), _np(trajectory)[..., 0]
    ax.plot(levels, traj[:, :max_lines], color="tab:blue", lw=0.6, alpha=0.5)
    ax.set_xscale("log")
    ax.set_xlim(levels.max() * 1.2, levels.min() / 1.2)
    ax.set(xlabel=xlabel, ylabel="x", title=title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    return ax


def plot_sampling(x, density, samples, levels, trajectory, *, prior_x=None, prior_density=None, title=None, axes=None):
    """The three-panel sampling figure: the starting noise and the prior, the trajectories, the samples against the
    target density. Returns the figure."""
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    else:
        fig = axes[0].figure
    start = _np(trajectory)[0]
    if prior_x is None:
        prior_x, prior_density = np.linspace(start.min(), start.max(), 400), None
    plot_density(
        prior_x,
        prior_density if prior_density is not None else np.zeros(len(prior_x)),
        start,
        ax=axes[0],
        label="p_σmax (exact)" if prior_density is not None else "",
        sample_label="starting noise",
        title="prior at σ_max",
        xlabel="x at σ_max",
    )
    x_np = _np(x)
    plot_trajectories(levels, trajectory, ax=axes[1], title="trajectories", ylim=(x_np.min(), x_np.max()))
    plot_density(x, density, samples, ax=axes[2], title="samples vs target")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_losses(losses, *, ax=None, smooth=50, label="loss", log=True, title=None):
    """A loss curve: the raw values, faint, and a running mean over `smooth` steps."""
    ax = _axes(ax)
    losses = _np(losses)
    line = ax.plot(losses, alpha=0.25, lw=0.5)[0]
    if smooth > 1 and len(losses) > smooth:
        ax.plot(
            np.arange(smooth - 1, len(losses)),
            np.convolve(losses, np.ones(smooth) / smooth, "valid"),
            color=line.get_color(),
            label=label,
        )
    ax.set(xlabel="training step", ylabel="loss", title=title)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax


def plot_curves(x, curves, *, ax=None, xlabel="x", ylabel=None, title=None, styles=None, logx=False, logy=False):
    """Several curves over the same x: `curves` maps a label to its values."""
    ax = _axes(ax)
    x = _np(x).reshape(-1)
    for i, (label, y) in enumerate(curves.items()):
        style = (styles or {}).get(label, {})
        ax.plot(x, _np(y).reshape(-1), label=label, **style)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax


def plot_scatter(samples, *, ax=None, reference=None, title=None, s=2, alpha=0.3, lim=None):
    """2D samples as a scatter plot, with reference points (exact samples) behind them."""
    ax = _axes(ax, figsize=(4, 4))
    if reference is not None:
        r = _np(reference)
        ax.scatter(r[:, 0], r[:, 1], s=s, alpha=alpha, color="lightgray", label="exact samples")
    p = _np(samples)
    ax.scatter(p[:, 0], p[:, 1], s=s, alpha=alpha, color="tab:blue", label="samples")
    ax.set(xlabel="x₁", ylabel="x₂", title=title, aspect="equal")
    if lim is not None:
        ax.set(xlim=lim, ylim=lim)
    ax.legend(fontsize=8, markerscale=4)
    return ax


def plot_floor_ratio(
    x,
    ratios,
    *,
    ax=None,
    target=None,
    xlabel="network evaluations per sample (NFE)",
    ylabel="W1 / noise floor",
    title=None,
    styles=None,
):
    """Quality as a multiple of the noise floor against a cost (log-log): `ratios` maps a label to its values; a line
    at 1 marks the floor (what exact samples of the same size score) and, if given, a dashed line marks `target`."""
    ax = plot_curves(x, ratios, ax=ax, xlabel=xlabel, ylabel=ylabel, title=title, styles=styles, logx=True, logy=True)
    ax.axhline(1.0, color="black", lw=1, label="noise floor")
    if target is not None:
        ax.axhline(target, color="black", lw=1, ls="--", label=f"target {target:g}x")
    ax.legend(fontsize=8)
    return ax


def plot_trajectories_2d(trajectory, *, ax=None, reference=None, max_lines=80, title=None, lim=None):
    """Paths of 2D samples through the plane; trajectory is [T, n, 2] (first row: the start, last: the end). The end
    points are drawn in colour, the exact samples (reference) in grey behind them."""
    ax = _axes(ax, figsize=(4, 4))
    traj = _np(trajectory)[:, :max_lines]
    if reference is not None:
        r = _np(reference)
        ax.scatter(r[:, 0], r[:, 1], s=2, alpha=0.3, color="lightgray", label="exact samples")
    ax.plot(traj[..., 0], traj[..., 1], color="tab:blue", lw=0.5, alpha=0.4)
    ax.scatter(traj[-1, :, 0], traj[-1, :, 1], s=8, color="tab:red", zorder=3, label="end points")
    ax.set(xlabel="x₁", ylabel="x₂", title=title, aspect="equal")
    if lim is not None:
        ax.set(xlim=lim, ylim=lim)
    ax.legend(fontsize=8, markerscale=2, loc="upper right")
    return ax


def plot_classes(x, densities, samples, *, ax=None, bins=150, title=None, xlabel="x"):
    """1D class-conditional samples: for each class a histogram of its samples scaled by its share of all samples,
    over its exact weighted density w_k p(x | k). densities: [K, len(x)]; samples: a list of K sample arrays."""
    ax = _axes(ax)
    x = _np(x).reshape(-1)
    total = sum(len(_np(s)) for s in samples)
    for k, (density, s) in enumerate(zip(densities, samples)):
        s = _np(s).reshape(-1)
        color = f"C{k}"
        if len(s):
            counts, edges = np.histogram(s, bins=bins, range=(x.min(), x.max()))
            width = edges[1] - edges[0]
            ax.bar(
                edges[:-1],
                counts / (total * width),
                width=width,
                align="edge",
                alpha=0.45,
                color=color,
                label=f"class {k} samples",
            )
        ax.plot(x, _np(density).reshape(-1), color=color, lw=1.2)
    ax.set(xlabel=xlabel, ylabel="density", title=title)
    ax.legend(fontsize=8, loc="upper right")
    return ax
