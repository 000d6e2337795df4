"""Where one-step sampling starts: N(0, T^2) against the matched N(m, T^2 + s^2), and lower starting levels T.

Song et al. 2023's x_T ~ N(0, T^2) against the matched start N(m, T^2 + s^2), the noisy data's own mean m and variance
(cm_toy.sample_consistency's data_mean / data_std; T = sigma_max = 80).

    python -m benchmarks start [--jobs N] [task ...]

Writes benchmarks/results/start.md. Per task: the exact consistency function sampled with the same noise
(cm_toy.ExactConsistency), and the default CD (learned EDM teacher) and CT (batch recipe) models, trained with library
defaults (seed 0, one thread), each sampled from both starts with the same seeds. W1 as a ratio to the noise floor:
median over sampling seeds 0-4 at n = 10,000 and over seeds 100-104 at n = 100,000 (the floor of that size), one and
two steps (sampling_sigmas). Only the first step's start differs; the second re-noises a sample of the model.
A second table per task starts one step lower, x_T ~ N(m, T^2 + s^2) at T = 80 / 40 / 20 / 10 / 5 (one network call
at level T; n = 10,000, median of sampling seeds 0-4), for the same models and for continuous-time CT
(train_continuous_ct, recipes song2023 and damped, from the same EDM model): which slice f(., T) of each model is
trained best.
--jobs runs tasks in parallel processes (default 2), each on one thread.
"""

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import exact_f, median, noise_floor, pool_map, write_results
from benchmarks.common import table as markdown

SIZES = ((10_000, range(5)), (100_000, range(100, 105)))
TASKS = ("three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D")
JOBS = 2
LOWER = (80.0, 40.0, 20.0, 10.0, 5.0)  # levels T of the second table


def ratios(sample, task):
    """sample(n, num_steps, seed, matched) -> samples; {(n, num_steps, matched): median W1 / floor of size n}."""
    out = {}
    for n, seeds in SIZES:
        floor = noise_floor(task, n)["w1"]
        for steps in (1, 2):
            for matched in (False, True):
                w1 = median(lambda n_, s: sample(n_, steps, s, matched), task, n, seeds)["w1"]
                out[n, steps, matched] = w1 / floor
    return out


def run(task_name):
    task = cm_toy.get_dataset(task_name)
    start = dict(data_mean=task.mean(), data_std=task.std())
    pick = lambda matched: start if matched else {}
    edm = fit(cm_toy.train_edm, task_name)
    models = {
        "exact f* (a perfect model, the same noise)": exact_f(task),
        "CD (train_cd default)": fit(cm_toy.train_cd, task_name, edm).model,
        "CT (batch recipe)": fit(cm_toy.train_ct, task_name, recipe="batch").model,
    }
    rows = {
        name: lambda n, steps, seed, m, f=f: cm_toy.sample_consistency(f, n, num_steps=steps, seed=seed, **pick(m))
        for name, f in models.items()
    }
    models["continuous CT (song2023, the default)"] = fit(cm_toy.train_continuous_ct, task_name, init=edm).model
    models["continuous CT (damped, this project's)"] = fit(
        cm_toy.train_continuous_ct, task_name, recipe="damped", init=edm
    ).model
    mean = round(task.mean().item(), 2) + 0.0  # + 0.0: no "-0.00"
    columns = ["sampler", "steps"] + [f"n = {n:,}: {s}" for n, _ in SIZES for s in ("N(0, T^2)", "matched")]
    cells = []
    for name, sample in rows.items():
        r = ratios(sample, task)
        for steps in (1, 2):
            cells.append([name, steps] + [f"{r[n, steps, m]:.2f}x" for n, _ in SIZES for m in (False, True)])
        print(f"  {task_name}: {name} done", flush=True)
    lines = [f"### {task_name}: data mean m = {mean:+.2f}, std s = {task.std().item():.3f}", ""]
    lines += markdown(columns, cells)
    n, seeds = SIZES[0]
    floor = noise_floor(task, n)["w1"]
    cells = []
    for name, f in models.items():
        sample = lambda T, n_, s, f=f: cm_toy.sample_consistency(f, n_, sigmas=[T], seed=s, **start)
        w1 = [median(lambda n_, s: sample(T, n_, s), task, n, seeds)["w1"] / floor for T in LOWER]
        cells.append([name] + [f"{r:.2f}x" for r in w1])
    print(f"  {task_name}: lower starts done", flush=True)
    lines += ["", f"One step from x_T ~ N(m, T^2 + s^2) at a lower level T (n = {n:,}, W1 median of 5 / floor):", ""]
    return lines + markdown(["sampler"] + [f"T = {T:g}" for T in LOWER], cells)


def main(args):
    out = [
        "# Where one-step sampling starts",
        "",
        f"`python -m benchmarks start {' '.join(args.tasks)}` (W1 median over 5 sampling seeds / the noise floor of "
        "the same size; training seed 0; one thread). N(0, T^2): Song et al. 2023's Algorithm 1, the default of "
        "`sample_consistency`; matched: N(m, T^2 + s^2) with the data's mean m and std s (`data_mean=task.mean(), "
        "data_std=task.std()`), the noisy data's own first two moments at T = 80.",
        "",
    ]
    for lines in pool_map(run, args.tasks, jobs=args.jobs):
        out += lines + [""]
        print("\n".join(lines), flush=True)
    write_results("start.md", out)
