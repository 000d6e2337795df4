"""Multistep drift: the targets of issue 5 for the library defaults, and the controlled experiments behind notebook 07.

    python benchmarks/drift.py [--jobs N] [--quick] [--only targets|ablations]

Writes benchmarks/results/drift.md (and drift.json with every number). Three tables:
1. targets: the CT batch recipe (train_ct(recipe="batch")) and default CD (train_cd from
   a learned EDM teacher) with the default multistep sigmas, `sample_consistency(model, n, num_steps=k)`, k = 1, 2,
   4, 8, on every seed task: W1 of the seed-0 draw and the median over 5 sampling seeds (each / noise floor and / the
   one-step W1), std ratio. Target: std ratio within 1 +/- 0.03 and W1 <= 1.2x one-step for k = 2, 4, 8.
2. drift vs steps for the original setting (cm_toy.drift.train_original) and the exact f* with the same sampler.
3. controlled experiments: one setting changed at a time from the original, multistep W1 and std ratio.
Each model is trained once (seed 0 unless noted) on one thread; --jobs runs models in parallel processes.
"""

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import torch

import cm_toy
from cm_toy import drift as D

N, SEEDS = 10_000, range(5)
TASKS = ["three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D"]
STEPS = (1, 2, 4, 8)
ORIG_STEPS = (1, 2, 4, 8, 19)
HERE = os.path.dirname(os.path.abspath(__file__))


def _metrics(sample_fn, task, seeds=SEEDS):
    seed0 = cm_toy.evaluate(sample_fn(N, 0), task)
    med = cm_toy.evaluate_seeds(sample_fn, task, n=N, seeds=seeds) if len(seeds) > 1 else seed0
    return dict(seed0=seed0, median=med)


def grids(sigma_min, sigma_max, k):
    """The multistep grids compared for the original setting, each with k noisy steps starting at sigma_max."""
    return {kind: D.multistep_grid(kind, k, sigma_min, sigma_max) for kind in D.GRIDS}


# ----- jobs: each trains one model and measures it ----------------------------------------------------------------


def job_target(task, method, quick):
    torch.set_num_threads(1)
    start = time.perf_counter()
    if method == "ct":
        model = cm_toy.train_ct(task, recipe="batch", progress=False, **(dict(steps=200) if quick else {}))
    else:
        edm = cm_toy.train_edm(task, progress=False, **(dict(steps=200) if quick else {}))
        model = cm_toy.train_cd(task, edm, progress=False, **(dict(steps=200) if quick else {}))
    seconds = time.perf_counter() - start
    rows = {}
    for k in STEPS + (16,):
        rows[k] = _metrics(lambda n, s: cm_toy.sample_consistency(model, n, num_steps=k, seed=s), task)
    # Candidate levels (sigma_high, sigma_low) for sampling_sigmas, in case the default misses the targets.
    candidates = {}
    for hi, lo in [(1.0, 0.3), (1.0, 0.5), (1.5, 0.5), (2.0, 0.5), (1.5, 0.7), (0.8, 0.2)]:
        for k in (2, 4, 8):
            sig = cm_toy.sampling_sigmas(k, sigma_high=hi, sigma_low=lo)
            candidates[f"{hi}-{lo}-{k}"] = _metrics(
                lambda n, s: cm_toy.sample_consistency(model, n, sigmas=sig, seed=s), task
            )["median"]
    return dict(kind="target", task=task, method=method, seconds=seconds, rows=rows, candidates=candidates)


ABLATIONS = {  # name: (train_original overrides, sampler start scale, what it tests)
    "original": (dict(), "the original's setting (3,000 steps of 1,024, lr 1e-3)"),
    "original, seed 1": (dict(seed=1), "training-seed spread"),
    "start noise 1.0 sigma_max": (dict(), "prior: Algorithm 1's start instead of 1.5 sigma_max (sampler only)"),
    "sigma_max 80": (dict(sigma_max=80.0), "prior: a sigma_max far above the data scale"),
    "smooth embedding": (dict(embedding="smooth"), "time embedding: cm_toy's low-frequency features"),
    "Fourier scale 1": (dict(fourier_scale=1.0), "time embedding: Fourier features of scale 1"),
    "curriculum N 10->100": (dict(curriculum=True), "discretisation: Song 2023 N(k) instead of a fixed 100"),
    "fixed N = 20": (dict(num_scales=20), "discretisation: a coarse fixed grid"),
    "target EMA 0": (dict(target_decay=0.0), "target network: stop-gradient student (iCT)"),
    "target EMA 0.999": (dict(target_decay=0.999), "target network: slow EMA"),
    "500 steps": (dict(steps=500), "training length"),
    "12,000 steps": (dict(steps=12000), "training length"),
    "lr 1e-4": (dict(lr=1e-4), "learning rate: the original's"),
    "EDM pretraining 2,000 steps": (dict(pretrain_steps=2000), "the original's diffusion pretraining before CT"),
    "CD, exact teacher": (dict(teacher="exact"), "CD vs CT: distillation from the exact denoiser"),
    "smooth + curriculum": (dict(embedding="smooth", curriculum=True), "combination"),
    "smooth + EMA 0": (dict(embedding="smooth", target_decay=0.0), "combination"),
    "smooth + curriculum + EMA 0": (dict(embedding="smooth", curriculum=True, target_decay=0.0), "combination"),
}


def job_ablation(name, task, quick):
    torch.set_num_threads(1)
    overrides = dict(ABLATIONS[name][0])
    if quick:
        overrides["steps"] = 100
        overrides["pretrain_steps"] = min(overrides.get("pretrain_steps", 0), 50)
    if overrides.get("teacher") == "exact":
        mixture = cm_toy.get_dataset(task)
        overrides["teacher"] = lambda x, sigma: mixture.denoise(x, sigma).to(x.dtype)
    start_scale = 1.0 if name.startswith("start noise") else D.ORIGINAL["start_scale"]
    start = time.perf_counter()
    model = D.train_original(task, progress=False, **overrides)
    seconds = time.perf_counter() - start
    sigma_min, sigma_max = model.sigma_min, overrides.get("sigma_max", D.ORIGINAL["sigma_max"])
    rows = {}
    for k in ORIG_STEPS:
        for grid, sig in grids(sigma_min, min(sigma_max, 1.0), k).items():
            if k == 1 and grid != "linear":
                continue
            if sigma_max > 1.0:  # the sigma_max = 80 model starts at 80, then follows the grid below 1
                sig = torch.cat([torch.tensor([sigma_max]), sig[1:]]) if k > 1 else torch.tensor([sigma_max])
            seeds = SEEDS if grid == "linear" and k in (1, 19) else range(1)
            rows[f"{grid}-{k}"] = _metrics(
                lambda n, s: D.sample_multistep(model, n, sig, start_scale=start_scale, seed=s), task, seeds
            )
    levels = torch.logspace(math.log10(sigma_min * 1.2), 0, 12)
    profile = {k: v.tolist() for k, v in D.bias_profile(model, task, levels, n=2000 if quick else 4000).items()}
    return dict(
        kind="ablation", name=name, task=task, seconds=seconds, rows=rows, levels=levels.tolist(), profile=profile
    )


def job_exact(task, quick):
    torch.set_num_threads(1)
    f = D.exact_f(task, D.ORIGINAL["sigma_min"], num_steps=16 if quick else 32)
    rows = {}
    for start_scale in (1.5, 1.0):
        for k in ORIG_STEPS:
            for grid, sig in grids(f.sigma_min, 1.0, k).items():
                if k == 1 and grid != "linear":
                    continue
                rows[f"{start_scale}-{grid}-{k}"] = _metrics(
                    lambda n, s: D.sample_multistep(f, n, sig, start_scale=start_scale, seed=s), task, range(1)
                )
    levels = torch.logspace(math.log10(f.sigma_min * 1.2), 0, 12)
    contraction = D.contraction_profile(task, levels, sigma_min=f.sigma_min, n=1000 if quick else 4000).tolist()
    return dict(kind="exact", task=task, rows=rows, levels=levels.tolist(), contraction=contraction)


# ----- tables -------------------------------------------------------------------------------------------------------


def table_targets(results, floors):
    lines = [
        "## 1. Targets: default recipes, default multistep sigmas (`sample_consistency(model, n, num_steps=k)`)",
        "",
        "Target for k = 2, 4, 8: std ratio within 1 +/- 0.03 and W1 <= 1.2x the one-step W1 (seed 0 and "
        "median of 5 sampling seeds).",
        "",
        "| task | model | k | sigmas | W1 seed 0 (x floor, x 1-step) | W1 median (x floor, x 1-step) | "
        "std ratio seed 0 / median | gap mass (x true) | pass |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = floors[r["task"]]["w1"]
        one0, onem = r["rows"][1]["seed0"]["w1"], r["rows"][1]["median"]["w1"]
        for k, row in r["rows"].items():
            s0, med = row["seed0"], row["median"]
            ok = (
                ""
                if k == 1
                else "yes"
                if all(abs(m["std_ratio"] - 1) <= 0.03 for m in (s0, med))
                and s0["w1"] <= 1.2 * one0
                and med["w1"] <= 1.2 * onem
                else "NO"
            )
            if k == 16:
                ok = "(extra)"
            sig = ", ".join(f"{v:.3g}" for v in cm_toy.sampling_sigmas(k).tolist())
            name = "CT (batch recipe)" if r["method"] == "ct" else "CD (learned EDM teacher)"
            lines.append(
                f"| {r['task']} | {name} | {k} | {sig} | {s0['w1']:.4f} ({s0['w1'] / f:.2f}x, "
                f"{s0['w1'] / one0:.2f}x) | {med['w1']:.4f} ({med['w1'] / f:.2f}x, {med['w1'] / onem:.2f}x) "
                f"| {s0['std_ratio']:.3f} / {med['std_ratio']:.3f} | {med['gap_mass']:.4f} "
                f"({med['gap_mass'] / max(med['gap_mass_true'], 1e-12):.1f}x) | {ok} |"
            )
    return "\n".join(lines)


def table_candidates(results, floors):
    keys = list(results[0]["candidates"]) if results else []
    levels = list(dict.fromkeys(k.rsplit("-", 1)[0] for k in keys))
    lines = [
        "## Candidate levels for `sampling_sigmas` (sigma_high-sigma_low; median W1 / noise floor, std ratio)",
        "",
        "| task | model | " + " | ".join(f"{lv} k={k}" for lv in levels for k in (2, 4, 8)) + " |",
        "|---|---|" + "---|" * (3 * len(levels)),
    ]
    for r in results:
        f = floors[r["task"]]["w1"]
        cells = [
            f"{r['candidates'][f'{lv}-{k}']['w1'] / f:.2f}x, {r['candidates'][f'{lv}-{k}']['std_ratio']:.3f}"
            for lv in levels
            for k in (2, 4, 8)
        ]
        lines.append(f"| {r['task']} | {r['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_original(ablations, exacts, floors):
    lines = [
        "## 2. The original setting: drift vs number of steps (three_gmm_1D unless noted)",
        "",
        "Start noise 1.5 sigma_max (as the original). Linear grid: k levels evenly from sigma_max = 1 (the "
        "original's 20 levels are k = 19 plus a no-op at sigma_min); Karras: rho = 7; high: sigma_max then "
        "levels geometric from 0.8 to 0.3. W1 (x floor), std ratio; seed 0 draw (k = 1 and 19 linear: median "
        "of 5).",
        "",
        "| sampler uses | grid | " + " | ".join(f"k = {k}" for k in ORIG_STEPS) + " |",
        "|---|---|" + "---|" * len(ORIG_STEPS),
    ]
    for e in exacts:
        f = floors[e["task"]]["w1"]
        for start in (1.5, 1.0):
            for grid in ("linear", "karras", "high"):
                cells = []
                for k in ORIG_STEPS:
                    key = f"{start}-{'linear' if k == 1 else grid}-{k}"
                    m = e["rows"][key]["seed0"]
                    cells.append(f"{m['w1']:.3f} ({m['w1'] / f:.1f}x), {m['std_ratio']:.2f}")
                lines.append(
                    f"| exact f*, start {start} sigma_max ({e['task']}) | {grid} | " + " | ".join(cells) + " |"
                )
    for a in ablations:
        if not a["name"].startswith("original"):
            continue
        f = floors[a["task"]]["w1"]
        for grid in ("linear", "karras", "high"):
            cells = []
            for k in ORIG_STEPS:
                row = a["rows"][f"{'linear' if k == 1 else grid}-{k}"]
                m = row["median"] if (k in (1, 19) and grid == "linear") or k == 1 else row["seed0"]
                cells.append(f"{m['w1']:.3f} ({m['w1'] / f:.1f}x), {m['std_ratio']:.2f}")
            lines.append(f"| learned f, {a['name']} ({a['task']}) | {grid} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_ablations(ablations, floors):
    lines = [
        "## 3. Controlled experiments (three_gmm_1D; one change from the original setting each)",
        "",
        "W1 (x floor) and std ratio: one step (median of 5), the original's 19 linear steps (median of 5), and 4 "
        "steps on the 'high' grid (seed 0); outward bias: the largest mean signed error of f against f* away "
        "from the data mean over 12 levels in [0.06, 1], and the level where it occurs; spread: the largest "
        "one-step std(f) / std(f*) there.",
        "",
        "| experiment | tests | 1 step | 19 linear steps | 4 steps, high grid | max outward bias (at sigma) "
        "| max spread | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in ablations:
        if a["task"] != "three_gmm_1D":
            continue
        f = floors[a["task"]]["w1"]
        one, lin, high = a["rows"]["linear-1"]["median"], a["rows"]["linear-19"]["median"], a["rows"]["high-4"]["seed0"]
        out = torch.tensor(a["profile"]["outward"])
        i = int(out.argmax())
        lines.append(
            f"| {a['name']} | {ABLATIONS[a['name']][1]} | {one['w1']:.3f} ({one['w1'] / f:.1f}x), "
            f"{one['std_ratio']:.2f} | {lin['w1']:.3f} ({lin['w1'] / f:.1f}x), {lin['std_ratio']:.2f} | "
            f"{high['w1']:.3f} ({high['w1'] / f:.1f}x), {high['std_ratio']:.2f} | {out[i]:+.3f} "
            f"({a['levels'][i]:.2f}) | {max(a['profile']['spread']):.3f} | {a['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny training budgets: a smoke test of the script")
    parser.add_argument("--only", choices=["targets", "ablations"])
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    jobs = []
    if args.only != "ablations":
        jobs += [(job_target, (task, method, args.quick)) for task in TASKS for method in ("ct", "cd")]
    if args.only != "targets":
        jobs += [(job_ablation, (name, "three_gmm_1D", args.quick)) for name in ABLATIONS]
        jobs += [(job_ablation, ("original", "two_gmm_1D", args.quick)), (job_exact, ("three_gmm_1D", args.quick))]
    start = time.perf_counter()
    results = []
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(fn, *a) for fn, a in jobs]
        for fut in futures:
            results.append(fut.result())
            r = results[-1]
            print(
                f"[{time.perf_counter() - start:.0f} s] done: {r['kind']} {r.get('name', r.get('method', ''))} "
                f"{r['task']}",
                flush=True,
            )
    floors = {task: cm_toy.noise_floor(task, N) for task in TASKS}
    targets = [r for r in results if r["kind"] == "target"]
    ablations = [r for r in results if r["kind"] == "ablation"]
    exacts = [r for r in results if r["kind"] == "exact"]
    out = [
        "# Multistep consistency sampling: drift",
        "",
        f"`python benchmarks/drift.py --jobs {args.jobs}{' --quick' if args.quick else ''}` (n = 10,000; one "
        "training seed, 0, unless noted; one thread per model; noise floor = median W1 of 50 exact draws; times "
        "are wall-clock with several jobs sharing the machine).",
        "",
    ]
    out += ["Noise floor W1: " + ", ".join(f"{t} {floors[t]['w1']:.4f}" for t in TASKS), ""]
    if targets:
        out += [table_targets(targets, floors), "", table_candidates(targets, floors), ""]
    if ablations:
        out += [table_original(ablations, exacts, floors), "", table_ablations(ablations, floors), ""]
    text = "\n".join(out)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "drift.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(args.out, "drift.json"), "w") as fh:
        json.dump(dict(floors=floors, results=results), fh)


if __name__ == "__main__":
    sys.exit(main())
