"""The price of training without a teacher: one-step and two-step quality against the training budget, for the
published teacher-free recipes next to consistency distillation.

    python -m benchmarks ct_cost [task ...] [--steps 2000,8000,32000,64000] [--force] [--jobs N]

For each task: one EDM model (train_edm defaults), then for each budget (training steps) and recipe a model trained
with that recipe's library defaults except `steps`: CD from the EDM teacher (cm_toy.train_cd), iCT (ct.train_ict),
ECT from the EDM model with the paper's one-sample target x0 + r z (ct.train_ect, reference_batch=False), sCT from
the EDM model (trigflow.train_scm) and Song et al. 2023's CT (ct.train_song2023). Each recipe's curriculum or stages
scale with its budget; no other knob is tuned. Scores: W1 over the noise floor (median of 5 sampling seeds of 10,000
samples), gap mass over its true value and the std ratio, after one and after two steps. Training seconds are
wall-clock on one thread (the EDM model's own time not included; with --jobs 2, two tasks share the machine's two
cores). Rows are kept in benchmarks/results/ct_cost.jsonl
(keyed by recipe, task and steps; rows already there are skipped unless --force); the table goes to ct_cost.md.
"""

import json

import torch

import cm_toy
from benchmarks.common import RUN, noise_floor, pool_map, size, table, write_results
from cm_toy import ct, trigflow

TASKS = ("three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D")
JOBS = 2
N, SEEDS = 10_000, range(5)
RECIPES = {
    "CD (EDM teacher)": lambda task, edm, steps: cm_toy.train_cd(task, edm, steps=steps, progress=False),
    "iCT": lambda task, edm, steps: ct.train_ict(task, steps=steps, progress=False),
    "ECT (one-sample, from EDM)": lambda task, edm, steps: ct.train_ect(
        task, init=edm, reference_batch=False, steps=steps, progress=False
    ),
    "sCT (from EDM)": lambda task, edm, steps: trigflow.train_scm(task, init=edm, steps=steps, progress=False),
    "Song 2023 CT": lambda task, edm, steps: ct.train_song2023(task, steps=steps, progress=False),
}


def add_arguments(parser):
    parser.add_argument("--steps", default="2000,8000,32000,64000", help="training budgets, comma-separated")
    parser.add_argument("--force", action="store_true", help="measure rows already in ct_cost.jsonl again")


def score(model, task):
    floor = noise_floor(task, N)
    row = {}
    for k in (1, 2):
        sample = lambda n, s: cm_toy.sample_consistency(model, n, num_steps=k, seed=s)  # noqa: B023
        m = cm_toy.evaluate_seeds(sample, task, n=size(N), seeds=SEEDS)
        row[f"w1_{k}"] = m["w1"] / floor["w1"]
        row[f"gap_{k}"] = m["gap_mass"] / m["gap_mass_true"]
        row[f"std_{k}"] = m["std_ratio"]
        row[f"mode_{k}"] = m["mode_mass_err"]
    return row


def score_cells(row):
    """A row's scores as table cells: W1 / floor, gap mass / true and std ratio, after one and after two steps."""
    return (
        [f"{row[f'w1_{k}']:.2f}x" for k in (1, 2)]
        + [f"{row[f'gap_{k}']:.1f}x" for k in (1, 2)]
        + [f"{row[f'std_{k}']:.3f}" for k in (1, 2)]
    )


def run_task(task, budgets, skip):
    """Every (recipe, budget) row of one task not in skip, from one EDM model; returns the rows."""
    torch.set_num_threads(1)
    edm, rows = None, []
    for steps in budgets:
        for name, fit in RECIPES.items():
            if (name, task, steps) in skip:
                continue
            if edm is None:
                edm = cm_toy.train_edm(task, progress=False, **(dict(steps=20) if RUN.smoke else {}))
            run = fit(task, edm.ema, min(steps, 20) if RUN.smoke else steps)
            row = dict(recipe=name, task=task, steps=steps, seconds=run.seconds, edm_seconds=edm.seconds)
            row.update(score(run.ema, task))
            rows.append(row)
            print(row, flush=True)
    return rows


def main(args):
    path = RUN.out / "ct_cost.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    skip = set() if args.force else {(r["recipe"], r["task"], r["steps"]) for r in rows}
    budgets = [int(s) for s in args.steps.split(",")]
    tasks = list(args.tasks)
    for new in pool_map(run_task, tasks, [budgets] * len(tasks), [skip] * len(tasks), jobs=args.jobs):
        keys = {(r["recipe"], r["task"], r["steps"]) for r in new}
        rows = [r for r in rows if (r["recipe"], r["task"], r["steps"]) not in keys] + new
        RUN.out.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = [
        "# The price of training without a teacher",
        "",
        "`python -m benchmarks ct_cost`: each recipe with its library defaults except the number of training steps "
        "(one thread, seed 0; two tasks at a time on the machine's 2 cores). W1 is the median of 5 sampling seeds of "
        "10,000 samples over the noise floor; gap mass over its true value (for the single Gaussian, its tails beyond "
        "about 3 stds); std ratio of the samples. Training seconds on one thread, the EDM model's not included.",
    ]
    for task in dict.fromkeys(r["task"] for r in rows):
        lines += ["", f"### {task}", ""]
        cells = [
            [r["recipe"], f"{r['steps']:,}", f"{r['seconds']:.0f}"] + score_cells(r)
            for r in sorted(
                (r for r in rows if r["task"] == task), key=lambda r: (list(RECIPES).index(r["recipe"]), r["steps"])
            )
        ]
        columns = ["recipe", "steps", "train s", "W1 1 step", "W1 2 steps", "gap 1 step", "gap 2 steps"]
        lines += table(columns + ["std 1 step", "std 2 steps"], cells)
    print("\n".join(lines))
    write_results("ct_cost.md", lines)
