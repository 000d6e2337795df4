"""Continuous-time consistency training on every toy task: one- and two-step sample quality against the exact target,
next to the noise floor, and training time; discrete CT (cm_toy.train_ct, recipe "batch") alongside.

    python benchmarks/continuous.py [--jobs N] [task ...]  # the four seed tasks by default, N (2) in parallel
    python benchmarks/continuous.py --seeds 5 three_gmm_1D  # also training seeds 1..4 of the default (NaN check)

Writes benchmarks/results/continuous.md; with --seeds k > 1 it replaces only that file's "Training seeds" section.
Every continuous recipe starts from the same EDM model (train_edm defaults, seed 0), whose
training time is added to theirs; discrete CT (train_ct's "batch" recipe, the same batch denoiser) starts from fresh
weights. W1 is given for the seed-0 draw of 10,000 samples and as the median over 5 sampling seeds, each also as a
ratio to the noise floor. Times are wall-clock on one thread. With --seeds k, training seeds 1..k-1 of the default
recipe start from their own EDM models (a NaN would show as a "diverged" row). --jobs runs tasks in parallel
processes, each on one thread.
"""

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

import torch

import cm_toy

N, SEEDS = 10_000, range(5)
SEEDS_HEADING = "## Training seeds (NaN check)"
TASKS = ["three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D"]


def score(model, task):
    out = {}
    for steps in (1, 2):
        seed0 = cm_toy.evaluate(cm_toy.sample_consistency(model, N, num_steps=steps), task)
        med = cm_toy.evaluate_seeds(
            lambda n, s: cm_toy.sample_consistency(model, n, num_steps=steps, seed=s), task, n=N, seeds=SEEDS
        )
        out[steps] = (seed0, med)
    return out


def run(task, train_seeds):
    floor = cm_toy.noise_floor(task, N)
    rows = []
    for seed in range(train_seeds):
        start = time.perf_counter()
        edm = cm_toy.train_edm(task, seed=seed, progress=False)
        edm_seconds = time.perf_counter() - start
        if seed == 0:
            edm0, edm0_seconds = edm, edm_seconds
        recipes = cm_toy.CONTINUOUS_RECIPES if seed == 0 else cm_toy.CONTINUOUS_RECIPES[:1]
        for recipe in recipes:
            start = time.perf_counter()
            try:
                model = cm_toy.train_continuous_ct(task, recipe=recipe, init=edm, seed=seed, progress=False)
            except FloatingPointError as error:
                rows.append(dict(method=f"continuous {recipe}, seed {seed}", error=str(error)))
                continue
            seconds = time.perf_counter() - start + edm_seconds
            finite = all(math.isfinite(v) for v in model.history.losses)
            rows.append(
                dict(
                    method=f"continuous {recipe}" + (f", seed {seed}" if seed else ""),
                    seconds=seconds,
                    finite=finite,
                    scores=score(model, task),
                )
            )
            print(f"  {task}: {rows[-1]['method']} done in {seconds:.1f} s", flush=True)
    # Ablation of the default's batch direction: the one-sample z, from the same EDM model.
    start = time.perf_counter()
    model = cm_toy.train_continuous_ct(task, recipe="song2023", init=edm0, reference_batch=False, progress=False)
    rows.append(
        dict(
            method="continuous song2023, one-sample z (reference_batch=False)",
            seconds=time.perf_counter() - start + edm0_seconds,
            finite=True,
            scores=score(model, task),
        )
    )
    print(f"  {task}: {rows[-1]['method']} done in {rows[-1]['seconds']:.1f} s", flush=True)
    start = time.perf_counter()
    model = cm_toy.train_ct(task, recipe="batch", progress=False)  # the same batch denoiser; fresh weights
    rows.append(
        dict(
            method="discrete CT (batch recipe)",
            seconds=time.perf_counter() - start,
            finite=True,
            scores=score(model, task),
        )
    )
    print(f"  {task}: discrete CT done in {rows[-1]['seconds']:.1f} s", flush=True)
    return floor, rows


def table(task, floor, rows):
    f = floor["w1"]
    lines = [
        f"### {task}: noise floor W1 {f:.4f}, true gap mass {floor['gap_mass_true']:.4f}",
        "",
        "| method | steps | W1 seed 0 (x floor) | W1 median of 5 (x floor) | gap mass (x true) | mode mass err "
        "| std ratio | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['method']} | - | diverged: {row['error']} | | | | | |")
            continue
        for steps in (1, 2):
            s0, med = row["scores"][steps]
            gap_ratio = med["gap_mass"] / max(med["gap_mass_true"], 1e-12)
            lines.append(
                f"| {row['method']} | {steps} | {s0['w1']:.4f} ({s0['w1'] / f:.2f}x) | {med['w1']:.4f} "
                f"({med['w1'] / f:.2f}x) | {med['gap_mass']:.4f} ({gap_ratio:.1f}x) | "
                f"{med['mode_mass_err']:.3f} | {med['std_ratio']:.3f} | {row['seconds']:.0f} |"
            )
    return "\n".join(lines)


def task_table(task, seeds):
    torch.set_num_threads(1)
    return table(task, *run(task, seeds))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tasks", nargs="*", default=TASKS, help="the four seed tasks by default")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds of the default recipe")
    parser.add_argument("--jobs", type=int, default=2, help="tasks run in parallel processes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = f"--seeds {args.seeds} " if args.seeds > 1 else ""
    if args.jobs != 2:
        seeds += f"--jobs {args.jobs} "
    out = [
        "# Continuous-time consistency training",
        "",
        f"`python benchmarks/continuous.py {seeds}{' '.join(args.tasks)}` (n = 10,000 samples; gap mass, mode mass "
        "error and std ratio are medians over 5 sampling seeds; training seed 0 unless named; one thread; times "
        "measured on a shared, contended 2-core machine, so inflated).",
        "Original repository's continuous CT, one-step W1: 0.501 (three modes).",
        "",
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        for lines in pool.map(task_table, args.tasks, [args.seeds] * len(args.tasks)):
            out += [lines, ""]
            print(lines, flush=True)
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    path = os.path.join(os.path.dirname(__file__), "results", "continuous.md")
    old = open(path).read() if os.path.exists(path) else ""
    if args.seeds > 1:  # keep the main table; (re)write the training-seeds section after it
        out = [old.split(SEEDS_HEADING)[0].rstrip(), "", SEEDS_HEADING, ""] + out[2:]
    elif SEEDS_HEADING in old:  # keep the training-seeds section of an earlier --seeds run after the new main table
        out += [SEEDS_HEADING + old.split(SEEDS_HEADING, 1)[1].rstrip("\n")]
    with open(path, "w") as fh:
        fh.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
