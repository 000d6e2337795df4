"""Where one-step sampling starts: Song et al. 2023's x_T ~ N(0, T^2) against the matched start N(m, T^2 + s^2), the
noisy data's own mean m and variance (cm_toy.sample_consistency's data_mean / data_std; T = sigma_max = 80).

    python benchmarks/start.py [--jobs N] [task ...]

Writes benchmarks/results/start.md. Per task: the exact consistency function sampled with the same noise
(sample_exact_consistency), and the default CD (learned EDM teacher) and CT (batch recipe) models, trained with library
defaults (seed 0, one thread), each sampled from both starts with the same seeds. W1 as a ratio to the noise floor:
median over sampling seeds 0-4 at n = 10,000 and over seeds 100-104 at n = 100,000 (the floor of that size), one and
two steps (sampling_sigmas). Only the first step's start differs; the second re-noises a sample of the model.
A second table per task starts one step lower, x_T ~ N(m, T^2 + s^2) at T = 80 / 40 / 20 / 10 / 5 (one network call
at level T; n = 10,000, median of sampling seeds 0-4), for the same models and for continuous-time CT
(train_continuous_ct, recipes song2023 and damped, from the same EDM model): which slice f(., T) of each model is
trained best.
--jobs runs tasks in parallel processes (default 2), each on one thread.
"""

import argparse
from concurrent.futures import ProcessPoolExecutor

import torch
from common import write_results

import cm_toy

SIZES = ((10_000, range(5)), (100_000, range(100, 105)))
TASKS = ("three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D")
LOWER = (80.0, 40.0, 20.0, 10.0, 5.0)  # levels T of the second table


def ratios(sample, task):
    """sample(n, num_steps, seed, matched) -> samples; {(n, num_steps, matched): median W1 / floor of size n}."""
    out = {}
    for n, seeds in SIZES:
        floor = cm_toy.noise_floor(task, n)["w1"]
        for steps in (1, 2):
            for matched in (False, True):
                w1 = cm_toy.evaluate_seeds(lambda n_, s: sample(n_, steps, s, matched), task, n=n, seeds=seeds)["w1"]
                out[n, steps, matched] = w1 / floor
    return out


def run(task_name):
    torch.set_num_threads(1)
    task = cm_toy.get_dataset(task_name)
    start = dict(data_mean=task.mean(), data_std=task.std())
    pick = lambda matched: start if matched else {}
    rows = {
        "exact f* (a perfect model, the same noise)": lambda n, steps, seed, m: cm_toy.sample_exact_consistency(
            task, n, num_steps=steps, seed=seed, **pick(m)
        )
    }
    edm = cm_toy.train_edm(task, progress=False)
    models = {
        "CD (train_cd default)": cm_toy.train_cd(task, edm, progress=False),
        "CT (batch recipe)": cm_toy.train_ct(task, recipe="batch", progress=False),
    }
    for name, model in models.items():
        rows[name] = lambda n, steps, seed, m, model=model: cm_toy.sample_consistency(
            model, n, num_steps=steps, seed=seed, **pick(m)
        )
    models["continuous CT (song2023)"] = cm_toy.train_continuous_ct(task, recipe="song2023", init=edm, progress=False)
    models["continuous CT (damped, the default)"] = cm_toy.train_continuous_ct(task, init=edm, progress=False)
    mean = round(task.mean().item(), 2) + 0.0  # + 0.0: no "-0.00"
    lines = [
        f"### {task_name}: data mean m = {mean:+.2f}, std s = {task.std().item():.3f}",
        "",
        "| sampler | steps | n = 10,000: N(0, T^2) | n = 10,000: matched | n = 100,000: N(0, T^2) | "
        "n = 100,000: matched |",
        "|---|---|---|---|---|---|",
    ]
    for name, sample in rows.items():
        r = ratios(sample, task)
        for steps in (1, 2):
            lines.append(
                f"| {name} | {steps} | "
                + " | ".join(f"{r[n, steps, m]:.2f}x" for n, _ in SIZES for m in (False, True))
                + " |"
            )
        print(f"  {task_name}: {name} done", flush=True)
    n, seeds = SIZES[0]
    floor = cm_toy.noise_floor(task, n)["w1"]
    lines += [
        "",
        f"One step from x_T ~ N(m, T^2 + s^2) at a lower level T (n = {n:,}, W1 median of 5 / floor):",
        "",
        "| sampler | " + " | ".join(f"T = {T:g}" for T in LOWER) + " |",
        "|---|" + "---|" * len(LOWER),
    ]
    samplers = {
        "exact f* (a perfect model, the same noise)": lambda T, n_, s: cm_toy.sample_exact_consistency(
            task, n_, sigmas=[T], seed=s, **start
        )
    }
    for name, model in models.items():
        samplers[name] = lambda T, n_, s, model=model: cm_toy.sample_consistency(model, n_, sigmas=[T], seed=s, **start)
    for name, sample in samplers.items():
        w1 = [
            cm_toy.evaluate_seeds(lambda n_, s: sample(T, n_, s), task, n=n, seeds=seeds)["w1"] / floor for T in LOWER
        ]
        lines.append(f"| {name} | " + " | ".join(f"{r:.2f}x" for r in w1) + " |")
    print(f"  {task_name}: lower starts done", flush=True)
    return lines


def main(tasks, jobs):
    out = [
        "# Where one-step sampling starts",
        "",
        f"`python benchmarks/start.py {' '.join(tasks)}` (W1 median over 5 sampling seeds / the noise floor of the "
        "same size; training seed 0; one thread). N(0, T^2): Song et al. 2023's Algorithm 1, the default of "
        "`sample_consistency`; matched: N(m, T^2 + s^2) with the data's mean m and std s (`data_mean=task.mean(), "
        "data_std=task.std()`), the noisy data's own first two moments at T = 80.",
        "",
    ]
    with ProcessPoolExecutor(jobs) as pool:
        for lines in pool.map(run, tasks):
            out += lines + [""]
            print("\n".join(lines), flush=True)
    write_results("start.md", out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tasks", nargs="*", default=list(TASKS), metavar="task", help="default: the four seed tasks")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    unknown = [t for t in args.tasks if t not in cm_toy.list_datasets()]
    if unknown:
        parser.error(f"unknown task {', '.join(unknown)}; valid choices: {', '.join(cm_toy.list_datasets())}")
    main(args.tasks, args.jobs)
