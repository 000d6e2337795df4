"""The EDM recipe: train_edm with its defaults on every seed task, then the PF-ODE sampled with Heun and Euler.

    python -m benchmarks edm [--threads 1] [task ...]

For each task: training time, and for Heun and Euler at sample_edm's default number of steps, n = 10,000 samples
scored against the exact mixture: W1 of the seed-0 draw and the median over 5 sampling seeds, each next to its ratio
to the noise floor (what 10,000 exact samples score, median of 50 draws); the other metrics are medians over the 5
seeds. A third row per task runs Heun with the exact denoiser on the same noise: what a perfect model scores. Target:
W1 <= 1.5x the floor on every task, training <= 60 s on 2 CPU cores. Writes the table to benchmarks/results/edm.md.
"""

import inspect
import platform
import time

import torch

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import pool_map, score, table, write_results, x_floor

N = 10_000
TASKS = ("three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D")
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


def exact_sampler(task, solver, num_steps):
    """sample_edm's noise and levels, with the task's exact denoiser in place of a model."""
    task = cm_toy.get_dataset(task)
    sigmas = torch.cat([cm_toy.karras_sigmas(num_steps, cm_toy.SIGMA_MIN, cm_toy.SIGMA_MAX), torch.zeros(1)])
    sampler = cm_toy.heun_sampler if solver == "heun" else cm_toy.euler_sampler

    def sample(n, seed):
        return sampler(task.denoise, torch.randn(n, task.dim, generator=torch.Generator().manual_seed(seed)), sigmas)

    return sample


def run(task, num_steps):
    edm = fit(cm_toy.train_edm, task)
    rows = []
    # The learned model with both solvers, then the exact denoiser with Heun on the same noise (the sampler's own
    # error and the seed's scatter: what a perfect model would score).
    for solver, exact in (("heun", False), ("euler", False), ("heun", True)):
        if exact:
            sample = exact_sampler(task, solver, num_steps)
        else:
            sample = lambda n, s, solver=solver: cm_toy.sample_edm(
                edm.model, n, num_steps=num_steps, solver=solver, seed=s
            )
        r = score(sample, task, N)
        s0, med, floor = r["seed0"], r["median"], r["floor"]["w1"]
        nfe = 2 * num_steps - 1 if solver == "heun" else num_steps
        rows.append(
            [
                task,
                solver.capitalize() + (", exact D" if exact else ""),
                f"{num_steps} ({nfe})",
                x_floor(s0["w1"], floor),
                x_floor(med["w1"], floor),
                f"{floor:.4f}",
                f"{med['ks']:.4f}",
                f"{med['gap_mass']:.4f} ({med['gap_mass_true']:.4f})",
                f"{med['mode_mass_err']:.4f}",
                f"{med['std_ratio']:.3f}",
                "-" if exact else f"{edm.seconds:.1f}",
            ]
        )
    return rows


def main(args):
    num_steps, start = default_steps(), time.perf_counter()
    rows = []
    for task, task_rows in zip(args.tasks, pool_map(run, args.tasks, [num_steps] * len(args.tasks), jobs=args.jobs)):
        rows += task_rows
        print(f"{task} done ({time.perf_counter() - start:.0f} s)", flush=True)
    lines = table(COLUMNS, rows)
    print("\n".join(lines))
    header = (
        f"# EDM recipe: train_edm defaults (seed 0), n = {N:,} samples, sample_edm's {num_steps} steps\n\n"
        f"Command: `python -m benchmarks edm --threads {args.threads}`; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s). W1 is exact "
        "(integral of |F_n - F| against the analytic CDF); the floor is the median W1 of 50 exact draws of "
        "the same size. 'W1 seed 0' is the one draw with sampling seed 0; 'median' and every other metric are "
        "medians over sampling seeds 0-4. NFE = network evaluations per sample. 'exact D': Heun with the task's "
        "exact denoiser on the same noise, what a perfect model scores. Train time is wall-clock and depends on "
        "how busy the machine is.\n\n"
    )
    write_results("edm.md", header + "\n".join(lines))
