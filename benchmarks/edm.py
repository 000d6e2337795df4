"""Benchmark of the EDM recipe (issue 2): train_edm with its defaults on every seed task, then sample the PF-ODE.

    python benchmarks/edm.py [--threads 2] [--tasks three_gmm_1D two_gmm_1D ...]

For each task: training time, and for Heun and Euler at sample_edm's default number of steps, n = 10,000 samples
scored against the exact mixture: W1 of the seed-0 draw and the median over 5 sampling seeds, each next to its ratio
to the noise floor (what 10,000 exact samples score, median of 50 draws); the other metrics are medians over the 5
seeds. A third row per task runs Heun with the exact denoiser on the same noise: what a perfect model scores. Target:
W1 <= 1.5x the floor on every task, training <= 60 s on 2 CPU cores. Writes the table to
benchmarks/results/edm.md.
"""

import argparse
import inspect
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import cm_toy  # noqa: E402

N = 10_000
SEEDS = range(5)
TASKS = ["three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D"]
COLUMNS = [
    "task",
    "solver",
    "steps (NFE)",
    "W1 seed 0 (x floor)",
    "W1 median (x floor)",
    "W1 floor",
    "KS median",
    "gap mass (true)",
    "mode mass err",
    "std ratio",
    "train s",
]


def default_steps():
    return inspect.signature(cm_toy.sample_edm).parameters["num_steps"].default


def run(task_name, num_steps):
    task = cm_toy.get_dataset(task_name)
    model = cm_toy.train_edm(task, seed=0, progress=False)
    floor = cm_toy.noise_floor(task, N)
    rows = []
    # The learned model with both solvers, then the exact denoiser with Heun on the same noise (the sampler's own
    # error and the seed's scatter: what a perfect model would score).
    for solver, denoiser, exact in (("heun", model, False), ("euler", model, False), ("heun", task.denoise, True)):
        runs = [cm_toy.evaluate(_sample(denoiser, solver, num_steps, seed), task) for seed in SEEDS]
        med = {k: float(torch.tensor([r[k] for r in runs]).median()) for k in runs[0]}
        nfe = 2 * num_steps - 1 if solver == "heun" else num_steps
        rows.append(
            [
                task_name,
                solver.capitalize() + (", exact D" if exact else ""),
                f"{num_steps} ({nfe})",
                f"{runs[0]['w1']:.4f} ({runs[0]['w1'] / floor['w1']:.2f}x)",
                f"{med['w1']:.4f} ({med['w1'] / floor['w1']:.2f}x)",
                f"{floor['w1']:.4f}",
                f"{med['ks']:.4f}",
                f"{med['gap_mass']:.4f} ({med['gap_mass_true']:.4f})",
                f"{med['mode_mass_err']:.4f}",
                f"{med['std_ratio']:.3f}",
                "-" if exact else f"{model.history.seconds:.1f}",
            ]
        )
    return rows


def _sample(denoiser, solver, num_steps, seed):
    if isinstance(denoiser, torch.nn.Module):
        return cm_toy.sample_edm(denoiser, N, num_steps=num_steps, solver=solver, seed=seed)
    # sample_edm's noise and levels, with a plain function as the denoiser
    noise = torch.randn(N, 1, generator=torch.Generator().manual_seed(seed))
    sigmas = torch.cat([cm_toy.karras_sigmas(num_steps, cm_toy.SIGMA_MIN, cm_toy.SIGMA_MAX), torch.zeros(1)])
    sampler = cm_toy.heun_sampler if solver == "heun" else cm_toy.euler_sampler
    return sampler(denoiser, noise, sigmas)


def markdown(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is for 2 cores)")
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=cm_toy.list_datasets())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    num_steps, start = default_steps(), time.perf_counter()
    rows = []
    for name in args.tasks:
        rows += run(name, num_steps)
        print(f"{name} done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = markdown(rows)
    print(table)
    header = (
        f"# EDM recipe: train_edm defaults (seed 0), n = {N:,} samples, sample_edm's {num_steps} steps\n\n"
        f"Command: `python benchmarks/edm.py --threads {args.threads}`; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s). W1 is exact "
        "(integral of |F_n - F| against the analytic CDF); the floor is the median W1 of 50 exact draws of "
        "the same size. 'W1 seed 0' is the one draw with sampling seed 0; 'median' and every other metric are "
        "medians over sampling seeds 0-4. NFE = network evaluations per sample. 'exact D': Heun with the task's "
        "exact denoiser on the same noise, what a perfect model scores. Train time is wall-clock and depends on "
        "how busy the machine is.\n\n"
    )
    os.makedirs(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "edm.md"), "w") as f:
        f.write(header + table + "\n")


if __name__ == "__main__":
    main()
