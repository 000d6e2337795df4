"""The README's results table: each method's default recipe on the seed tasks, with the original's numbers.

Every method's default recipe on every seed task, next to the noise floor and the original repository's numbers.

    python -m benchmarks results [--threads N] [task ...]

Prints one table per task and writes them to benchmarks/results/results.md. Each model trains once with its library
defaults (seed 0). W1 is given for the seed-0 draw of 10,000 samples and as the median over 5 sampling seeds, both as a
ratio to the noise floor (the median W1 of exact samples of the same size); gap mass, mode-mass error and std ratio are
medians over the same 5 seeds. "train s" is wall-clock training time on this machine, including any EDM pretraining a
recipe starts from. --jobs runs tasks in parallel processes (each on one thread).
"""

import os

import torch

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import pool_map, score, table, write_results, x_floor

N = 10_000
TASKS = ("three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D")

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


def run(name):
    """(method, NFE, scores, train seconds) for every row of one task."""
    edm = fit(cm_toy.train_edm, name)
    rows = [("EDM, Heun", 127, score(lambda n, s: cm_toy.sample_edm(edm.model, n, seed=s), name, N), edm.seconds)]
    cd = fit(cm_toy.train_cd, name, edm)
    ct = fit(cm_toy.train_ct, name, init=edm)  # the default recipe, ECT, starts from the EDM model
    cont = fit(cm_toy.train_continuous_ct, name, init=edm)
    for label, model, seconds in (
        ("CD (EDM teacher)", cd.model, edm.seconds + cd.seconds),
        ("CT (ECT, no teacher)", ct.model, edm.seconds + ct.seconds),
        ("continuous CT (Song 2023, no teacher)", cont.model, edm.seconds + cont.seconds),
    ):
        for steps in (1, 2, 4):
            sample = lambda n, s, model=model, steps=steps: cm_toy.sample_consistency(model, n, num_steps=steps, seed=s)
            rows.append((label, steps, score(sample, name, N), seconds))
        print(f"  {name}: {label} done", flush=True)
    return section(name, rows)


def section(name, rows):
    f = rows[0][2]["floor"]
    lines = [f"### {name}: noise floor W1 {f['w1']:.4f}, true gap mass {f['gap_mass_true']:.4f}", ""]
    columns = "method, NFE, W1 seed 0 (x floor), W1 median of 5 (x floor), gap mass, mode-mass err, std ratio, train s"
    cells = []
    for method, nfe, r, seconds in rows:
        orig, med = original_for(name, method, nfe), r["median"]
        cells.append(
            [
                method,
                nfe,
                x_floor(r["seed0"]["w1"], f["w1"]),
                x_floor(med["w1"], f["w1"]),
                f"{med['gap_mass']:.4f}",
                f"{med['mode_mass_err']:.3f}",
                f"{med['std_ratio']:.3f}",
                f"{seconds:.0f}",
                "" if orig is None else f"{orig:.3f}",
            ]
        )
    return "\n".join(lines + table(columns.split(", ") + ["original W1"], cells))


def main(args):
    sections = []
    for text in pool_map(run, args.tasks, jobs=args.jobs):
        sections.append(text)
        print(text + "\n", flush=True)
    header = (
        f"# Results\n\n`python -m benchmarks results` on {os.cpu_count()} CPU cores, torch threads "
        f"{torch.get_num_threads() if args.jobs == 1 else 1}. Original W1: the original repository at its own settings "
        "(one-step rows: its discrete CT, or CD where marked; 4-step rows: its 20-level linear multistep sampler).\n"
    )
    write_results("results.md", header + "\n" + "\n\n".join(sections))
