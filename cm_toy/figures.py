"""Regenerate every README figure: `python -m cm_toy.figures [--out images]`.

Headless, CPU, fixed seeds: the same command writes the same PNGs. Each figure is the three-panel sampling figure
(starting noise against the exact p_sigma_max, trajectories, samples against the exact density) with the sampler and
its Wasserstein-1 distance (and the noise floor) in the title.
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from .consistency import sample_consistency, sampling_sigmas, train_cd, train_ct  # noqa: E402
from .continuous import train_continuous_ct  # noqa: E402
from .data import get_dataset  # noqa: E402
from .drift import ORIGINAL, linear_sigmas, sample_multistep, train_original  # noqa: E402
from .edm import SIGMA_MAX, SIGMA_MIN, sample_edm, train_edm  # noqa: E402
from .metrics import evaluate, noise_floor  # noqa: E402
from .plots import plot_density, plot_sampling  # noqa: E402
from .schedules import karras_sigmas  # noqa: E402

N = 10_000  # samples per figure


def _grids(task, samples, sigma_max):
    x = torch.linspace(-4, 4, 800)[:, None]
    prior_x = torch.linspace(-3.5 * sigma_max, 3.5 * sigma_max, 800)[:, None]
    return x, task.pdf(x), prior_x, task.pdf(prior_x, sigma_max)


def _title(label, samples, task):
    m, floor = evaluate(samples, task), noise_floor(task, len(samples))
    return f"{label}: W1 = {m['w1']:.4f} (noise floor {floor['w1']:.4f}), gap mass {m['gap_mass']:.4f}"


def ode_levels(sigmas):
    """x-positions for an ODE trajectory on a log axis: the final sigma = 0 is drawn at sigma_min / 2."""
    levels = sigmas.clone()
    levels[levels == 0] = SIGMA_MIN / 2
    return levels


def consistency_levels(sigmas, sigma_min=SIGMA_MIN):
    """x-positions for a multistep consistency trajectory: each noisy input at its sigma, each output at sigma_min."""
    return torch.stack([sigmas, torch.full_like(sigmas, sigma_min)], dim=1).reshape(-1)


def edm_figure(task, model, solver, num_steps, path):
    samples, traj = sample_edm(model, N, num_steps=num_steps, solver=solver, return_trajectory=True)
    sigmas = torch.cat([karras_sigmas(num_steps, SIGMA_MIN, SIGMA_MAX), torch.zeros(1)])
    x, pdf, prior_x, prior_pdf = _grids(task, samples, SIGMA_MAX)
    nfe = num_steps if solver == "euler" else 2 * num_steps - 1
    fig = plot_sampling(
        x,
        pdf,
        samples,
        ode_levels(sigmas),
        traj,
        prior_x=prior_x,
        prior_density=prior_pdf,
        title=_title(f"EDM, {solver.capitalize()} {nfe} NFE", samples, task),
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def consistency_figure(task, model, num_steps, path, label):
    samples, traj = sample_consistency(model, N, num_steps=num_steps, return_trajectory=True)
    sigmas = sampling_sigmas(num_steps)
    x, pdf, prior_x, prior_pdf = _grids(task, samples, SIGMA_MAX)
    steps = "one step" if num_steps == 1 else f"{num_steps} steps"
    fig = plot_sampling(
        x,
        pdf,
        samples,
        consistency_levels(sigmas),
        traj,
        prior_x=prior_x,
        prior_density=prior_pdf,
        title=_title(f"{label}, {steps}", samples, task),
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def drift_figure(task, ours, path, num_steps=8):
    """Before / after: the original's setting with its 20-level linear multistep sampler, and our defaults."""
    before = train_original(task, seed=0, progress=False)
    sigmas = torch.cat([linear_sigmas(ORIGINAL["multistep_levels"] - 1), torch.tensor([ORIGINAL["sigma_min"]])])
    x_before = sample_multistep(before, N, sigmas, start_scale=ORIGINAL["start_scale"])
    x_after = sample_consistency(ours, N, num_steps=num_steps)
    x = torch.linspace(-4, 4, 800)[:, None]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, samples, label in (
        (axes[0], x_before, "before: the original's setting, 20 linear levels"),
        (axes[1], x_after, f"after: our CD defaults, {num_steps} steps"),
    ):
        m = evaluate(samples, task)
        plot_density(
            x, task.pdf(x), samples, ax=ax, title=f"{label}\nW1 = {m['w1']:.3f}, std ratio = {m['std_ratio']:.2f}"
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="images", help="folder for the PNGs (default: images)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: these tiny models ran no faster on 2, and far slower on 2 busy cores)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    progress = not args.quiet
    for name in ("two_gmm_1D", "three_gmm_1D"):
        task = get_dataset(name)
        edm = train_edm(task, seed=0, progress=progress)
        edm_figure(task, edm, "euler", 64, os.path.join(args.out, f"{name}_edm_euler.png"))
        edm_figure(task, edm, "heun", 64, os.path.join(args.out, f"{name}_edm_heun.png"))
        cd = train_cd(task, edm, seed=0, progress=progress)
        consistency_figure(task, cd, 4, os.path.join(args.out, f"{name}_cd_multistep.png"), "CD")
        consistency_figure(task, cd, 1, os.path.join(args.out, f"{name}_cd_onestep.png"), "CD")
        if name == "three_gmm_1D":
            ct = train_ct(task, seed=0, progress=progress)  # the default recipe, pool; no teacher
            consistency_figure(task, ct, 1, os.path.join(args.out, f"{name}_ct_onestep.png"), "CT (pool)")
            cont = train_continuous_ct(task, init=edm, seed=0, progress=progress)
            consistency_figure(
                task, cont, 1, os.path.join(args.out, f"{name}_continuous_onestep.png"), "continuous-time CT"
            )
            drift_figure(task, cd, os.path.join(args.out, "drift_before_after.png"))
        print(f"{name}: figures written ({time.perf_counter() - start:.0f} s so far)", flush=True)
    print(f"all figures in {args.out}/ ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
