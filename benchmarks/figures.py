"""Every README figure, into images/: headless, CPU, fixed seeds (the same command writes the same PNGs).

    python -m benchmarks figures [--threads N] [--out images]

Each figure is the three-panel sampling figure (starting noise against the exact p_sigma_max, trajectories, samples
against the exact density) with the sampler and its Wasserstein-1 distance (and the noise floor) in the title; the
last one sets the original repository's multistep sampling beside the library's CD defaults. The models are the
library defaults (seed 0), shared with the other suites through benchmarks/cache.
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import cm_toy  # noqa: E402
from benchmarks.cache import fit  # noqa: E402
from benchmarks.common import ROOT, RUN, size  # noqa: E402
from cm_toy import drift as D  # noqa: E402
from cm_toy.plots import plot_density, plot_sampling  # noqa: E402

N = 10_000  # samples per figure
OUT = ROOT / "images"


def grids(task, sigma_max):
    x = torch.linspace(-4, 4, 800)[:, None]
    prior_x = torch.linspace(-3.5 * sigma_max, 3.5 * sigma_max, 800)[:, None]
    return x, task.pdf(x), prior_x, task.pdf(prior_x, sigma_max)


def title(label, samples, task):
    m, floor = cm_toy.evaluate(samples, task), cm_toy.noise_floor(task, len(samples))
    return f"{label}: W1 = {m['w1']:.4f} (noise floor {floor['w1']:.4f}), gap mass {m['gap_mass']:.4f}"


def ode_levels(sigmas):
    """x-positions for an ODE trajectory on a log axis: the final sigma = 0 is drawn at sigma_min / 2."""
    levels = sigmas.clone()
    levels[levels == 0] = cm_toy.SIGMA_MIN / 2
    return levels


def consistency_levels(sigmas, sigma_min=cm_toy.SIGMA_MIN):
    """x-positions for a multistep consistency trajectory: each noisy input at its sigma, each output at sigma_min."""
    return torch.stack([sigmas, torch.full_like(sigmas, sigma_min)], dim=1).reshape(-1)


def save(fig, name):
    fig.savefig(RUN.out / name, dpi=110)
    plt.close(fig)


def edm_figure(task, model, solver, num_steps, name):
    samples, traj = cm_toy.sample_edm(model, size(N), num_steps=num_steps, solver=solver, return_trajectory=True)
    sigmas = torch.cat([cm_toy.karras_sigmas(num_steps, cm_toy.SIGMA_MIN, cm_toy.SIGMA_MAX), torch.zeros(1)])
    x, pdf, prior_x, prior_pdf = grids(task, cm_toy.SIGMA_MAX)
    nfe = num_steps if solver == "euler" else 2 * num_steps - 1
    label = f"EDM, {solver.capitalize()} {nfe} NFE"
    fig = plot_sampling(
        x,
        pdf,
        samples,
        ode_levels(sigmas),
        traj,
        prior_x=prior_x,
        prior_density=prior_pdf,
        title=title(label, samples, task),
    )
    save(fig, name)


def consistency_figure(task, model, num_steps, name, label):
    samples, traj = cm_toy.sample_consistency(model, size(N), num_steps=num_steps, return_trajectory=True)
    sigmas = cm_toy.sampling_sigmas(num_steps)
    x, pdf, prior_x, prior_pdf = grids(task, cm_toy.SIGMA_MAX)
    label = f"{label}, {'one step' if num_steps == 1 else f'{num_steps} steps'}"
    fig = plot_sampling(
        x,
        pdf,
        samples,
        consistency_levels(sigmas),
        traj,
        prior_x=prior_x,
        prior_density=prior_pdf,
        title=title(label, samples, task),
    )
    save(fig, name)


def drift_figure(task_name, ours, name, num_steps=8):
    """Before / after: the original's setting with its 20-level linear multistep sampler, and our defaults."""
    task = cm_toy.get_dataset(task_name)
    before = fit(D.train_original, task_name, seed=0).model
    sigmas = torch.cat([D.linear_sigmas(D.ORIGINAL["multistep_levels"] - 1), torch.tensor([D.ORIGINAL["sigma_min"]])])
    # the original's start, noise of std 1.5 sigma_max: N(0, sigma_max^2 + start_std^2) at sigma_max = 1
    x_before = cm_toy.sample_consistency(before, size(N), sigmas=sigmas, data_std=D.ORIGINAL["start_std"])
    x_after = cm_toy.sample_consistency(ours, size(N), num_steps=num_steps)
    x = torch.linspace(-4, 4, 800)[:, None]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, samples, label in (
        (axes[0], x_before, "before: the original's setting, 20 linear levels"),
        (axes[1], x_after, f"after: our CD defaults, {num_steps} steps"),
    ):
        m = cm_toy.evaluate(samples, task)
        plot_density(
            x, task.pdf(x), samples, ax=ax, title=f"{label}\nW1 = {m['w1']:.3f}, std ratio = {m['std_ratio']:.2f}"
        )
    fig.tight_layout()
    save(fig, name)


def main(args):
    RUN.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for name in ("two_gmm_1D", "three_gmm_1D"):
        task = cm_toy.get_dataset(name)
        edm = fit(cm_toy.train_edm, name, seed=0)
        edm_figure(task, edm.model, "euler", 64, f"{name}_edm_euler.png")
        edm_figure(task, edm.model, "heun", 64, f"{name}_edm_heun.png")
        cd = fit(cm_toy.train_cd, name, edm, seed=0).model
        consistency_figure(task, cd, 4, f"{name}_cd_multistep.png", "CD")
        consistency_figure(task, cd, 1, f"{name}_cd_onestep.png", "CD")
        if name == "three_gmm_1D":
            ct = fit(cm_toy.train_ct, name, init=edm, seed=0).model  # the default recipe, ECT; no teacher
            consistency_figure(task, ct, 1, f"{name}_ct_onestep.png", "CT (ECT, no teacher)")
            cont = fit(cm_toy.train_continuous_ct, name, init=edm, seed=0).model
            consistency_figure(task, cont, 1, f"{name}_continuous_onestep.png", "continuous-time CT")
            drift_figure(name, cd, "drift_before_after.png")
        print(f"{name}: figures written ({time.perf_counter() - start:.0f} s so far)", flush=True)
