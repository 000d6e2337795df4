"""The README's results table: every method's default recipe on every seed task, next to the noise floor and the
original repository's numbers.

    python benchmarks/results.py [--threads N] [task ...]

Prints one table per task and writes them to benchmarks/results/results.md. Each model trains once with its library
defaults (seed 0). W1 is given for the seed-0 draw of 10,000 samples and as the median over 5 sampling seeds, both as a
ratio to the noise floor (the median W1 of exact samples of the same size); gap mass, mode-mass error and std ratio are
medians over the same 5 seeds. "train s" is wall-clock training time on this machine, including any EDM pretraining a
recipe starts from.
"""

import argparse
import os
import time

import torch

import cm_toy

N, SEEDS = 10_000, range(5)

# The original repository (mbreuss/consistency_models_toy_task, c5ecf25) at its own settings, measured on a 2-core CPU
# machine of the kind this project's CI uses (one training seed; its model's device set to CPU to run at all):
# W1 of 10,000 samples against the analytic target. Source: the project's measured baseline.
ORIGINAL = {
    "three_gmm_1D": {"EDM": 0.104, "one-step": 0.142, "multistep": 1.164, "continuous one-step": 0.501},
    "two_gmm_1D": {"EDM": 0.061, "one-step": 0.190, "multistep": 1.076, "CD one-step": 0.076},
    "uneven_two_gmm_1D": {"EDM": 0.541, "one-step": 0.607, "multistep": 1.202},
    "single_gaussian_1D": {"EDM": 0.137, "one-step": 0.149, "multistep": 0.613},
}


def original_for(task, method, steps):
    o = ORIGINAL.get(task, {})
    if method.startswith("EDM"):
        return o.get("EDM")
    if method.startswith("CD") and steps == 1:
        return o.get("CD one-step")
    if method.startswith("continuous") and steps == 1:
        return o.get("continuous one-step")
    if method.startswith("CT") and steps == 1:
        return o.get("one-step")
    if method.startswith("CT") and steps > 2:
        return o.get("multistep")
    return None


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def score(sample, task):
    seed0 = cm_toy.evaluate(sample(N, 0), task)
    return seed0, cm_toy.evaluate_seeds(sample, task, n=N, seeds=SEEDS)


def run(name):
    task = cm_toy.get_dataset(name)
    rows = []
    edm, t_edm = timed(lambda: cm_toy.train_edm(task, progress=False))
    rows.append(("EDM, Heun", 127, *score(lambda n, s: cm_toy.sample_edm(edm, n, seed=s), task), t_edm))
    cd, t_cd = timed(lambda: cm_toy.train_cd(task, edm, progress=False))
    ct, t_ct = timed(lambda: cm_toy.train_ct(task, progress=False))  # the default recipe starts from fresh weights
    cont, t_cont = timed(lambda: cm_toy.train_continuous_ct(task, init=edm, progress=False))
    for label, model, seconds in (
        ("CD (EDM teacher)", cd, t_edm + t_cd),
        ("CT (default recipe)", ct, t_ct),
        ("continuous CT (default)", cont, t_edm + t_cont),
    ):
        for steps in (1, 2, 4):
            sample = lambda n, s, model=model, steps=steps: cm_toy.sample_consistency(model, n, num_steps=steps, seed=s)
            rows.append((label, steps, *score(sample, task), seconds))
        print(f"  {name}: {label} done", flush=True)
    return cm_toy.noise_floor(task, N), rows


def table(name, floor, rows):
    f = floor["w1"]
    out = [
        f"### {name}: noise floor W1 {f:.4f}, true gap mass {floor['gap_mass_true']:.4f}",
        "",
        "| method | NFE | W1 seed 0 (x floor) | W1 median of 5 (x floor) | gap mass | mode-mass err | std ratio "
        "| train s | original W1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method, nfe, s0, med, seconds in rows:
        orig = original_for(name, method, nfe)
        out.append(
            f"| {method} | {nfe} | {s0['w1']:.4f} ({s0['w1'] / f:.2f}x) | {med['w1']:.4f} ({med['w1'] / f:.2f}x) "
            f"| {med['gap_mass']:.4f} | {med['mode_mass_err']:.3f} | {med['std_ratio']:.3f} | {seconds:.0f} "
            f"| {'' if orig is None else f'{orig:.3f}'} |"
        )
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "tasks", nargs="*", default=["three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D"]
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sections = []
    for name in args.tasks:
        floor, rows = run(name)
        sections.append(table(name, floor, rows))
        print(sections[-1] + "\n", flush=True)
    header = (
        f"# Results\n\n`python benchmarks/results.py` on {os.cpu_count()} CPU cores, torch threads "
        f"{torch.get_num_threads()}. Original W1: the original repository at its own settings (one-step rows: its "
        "discrete CT, or CD where marked; 4-step rows: its 20-level linear multistep sampler).\n"
    )
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "results", "results.md"), "w") as fh:
        fh.write(header + "\n" + "\n\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
