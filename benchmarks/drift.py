"""Multistep drift: the targets for the library defaults, and the controlled experiments behind notebook 07.

    python -m benchmarks drift [--jobs N] [--only targets|ablations]

Writes benchmarks/results/drift.md (and drift.json with every number). Three tables:
1. targets: the CT batch recipe (train_ct(recipe="batch")) and default CD (train_cd from
   a learned EDM teacher) with the default multistep sigmas, `sample_consistency(model, n, num_steps=k)`, k = 1, 2,
   4, 8, on every seed task: W1 of the seed-0 draw and the median over 5 sampling seeds (each / noise floor and / the
   one-step W1), std ratio. Target: std ratio within 1 +/- 0.03 and W1 <= 1.2x one-step for k = 2, 4, 8.
2. drift vs steps for the original setting (cm_toy.drift.train_original) and the exact f* with the same sampler.
3. controlled experiments: one setting changed at a time from the original, multistep W1 and std ratio.
Each model is trained once (seed 0 unless noted) on one thread; --jobs runs models in parallel processes.
"""

import json
import math

import torch

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import exact_f, noise_floor, pool_map, score, size, write_results
from benchmarks.common import table as markdown
from cm_toy import drift as D

N = 10_000
TASKS = ["three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D"]
JOBS = 2
STEPS = (1, 2, 4, 8)
ORIG_STEPS = (1, 2, 4, 8, 19)
GRIDS = ("linear", "karras", "high")
START_SCALE = 1.5  # the original sampled from noise of std 1.5 sigma_max (cm_toy.drift.ORIGINAL["start_std"])


def add_arguments(parser):
    parser.add_argument("--only", choices=["targets", "ablations"], help="run one part (tables 1, or 2 and 3)")


def grids(sigma_min, sigma_max, k):
    """The multistep grids compared for the original setting, each k noisy levels starting at sigma_max: "linear"
    evenly spaced towards sigma_min (the original's), "karras" the rho = 7 grid of Karras et al. 2022 (Eq. 5) without
    its last level, "high" sigma_max then levels geometric from 0.8 to 0.3 (the kind cm_toy.sampling_sigmas gives)."""
    return dict(
        linear=D.linear_sigmas(k, sigma_min, sigma_max),
        karras=cm_toy.karras_sigmas(k + 1, sigma_min, sigma_max)[:-1],
        high=cm_toy.sampling_sigmas(k, sigma_max=sigma_max, sigma_high=0.8, sigma_low=0.3),
    )


def multistep(f, sigmas, start_scale):
    """sample(n, seed): Algorithm 1 of Song et al. 2023 over `sigmas`, from noise of std start_scale * sigmas[0]:
    sample_consistency's start N(0, T^2 + data_std^2) with data_std = T sqrt(start_scale^2 - 1), T = sigmas[0]."""
    data_std = float(sigmas[0]) * math.sqrt(start_scale**2 - 1)
    return lambda n, s: cm_toy.sample_consistency(f, n, sigmas=sigmas, seed=s, data_std=data_std)


def metrics(sample, task, seeds=range(5)):
    r = score(sample, task, N, seeds)
    return dict(seed0=r["seed0"], median=r["median"])


# ----- jobs: each trains one model and measures it ----------------------------------------------------------------


def job_target(task, method):
    if method == "ct":
        trained = fit(cm_toy.train_ct, task, recipe="batch")
        model, seconds = trained.model, trained.seconds
    else:
        edm = fit(cm_toy.train_edm, task)
        cd = fit(cm_toy.train_cd, task, edm)
        model, seconds = cd.model, edm.seconds + cd.seconds
    rows = {}
    for k in STEPS + (16,):
        rows[k] = metrics(lambda n, s: cm_toy.sample_consistency(model, n, num_steps=k, seed=s), task)
    # Candidate levels (sigma_high, sigma_low) for sampling_sigmas, in case the default misses the targets.
    candidates = {}
    for hi, lo in [(1.0, 0.3), (1.0, 0.5), (1.5, 0.5), (2.0, 0.5), (1.5, 0.7), (0.8, 0.2)]:
        for k in (2, 4, 8):
            sig = cm_toy.sampling_sigmas(k, sigma_high=hi, sigma_low=lo)
            candidates[f"{hi}-{lo}-{k}"] = metrics(
                lambda n, s: cm_toy.sample_consistency(model, n, sigmas=sig, seed=s), task
            )["median"]
    return dict(kind="target", task=task, method=method, seconds=seconds, rows=rows, candidates=candidates)


ABLATIONS = {  # name: (train_original overrides, what it tests)
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


def job_ablation(name, task):
    overrides = dict(ABLATIONS[name][0])
    if overrides.get("teacher") == "exact":
        mixture = cm_toy.get_dataset(task)
        overrides["teacher"] = lambda x, sigma: mixture.denoise(x, sigma).to(x.dtype)
    start_scale = 1.0 if name.startswith("start noise") else START_SCALE
    trained = fit(D.train_original, task, **overrides)
    model = trained.model
    sigma_min, sigma_max = model.sigma_min, overrides.get("sigma_max", D.ORIGINAL["sigma_max"])
    rows = {}
    for k in ORIG_STEPS:
        for grid, sig in grids(sigma_min, min(sigma_max, 1.0), k).items():
            if k == 1 and grid != "linear":
                continue
            if sigma_max > 1.0:  # the sigma_max = 80 model starts at 80, then follows the grid below 1
                sig = torch.cat([torch.tensor([sigma_max]), sig[1:]]) if k > 1 else torch.tensor([sigma_max])
            seeds = range(5) if grid == "linear" and k in (1, 19) else range(1)
            rows[f"{grid}-{k}"] = metrics(multistep(model, sig, start_scale), task, seeds)
    levels = torch.logspace(math.log10(sigma_min * 1.2), 0, 12)
    profile = D.bias_profile(model, task, levels, n=size(4000), f_star=exact_f(task, sigma_min))
    profile = {k: v.tolist() for k, v in profile.items()}
    return dict(
        kind="ablation",
        name=name,
        task=task,
        seconds=trained.seconds,
        rows=rows,
        levels=levels.tolist(),
        profile=profile,
    )


def job_exact(task):
    f = exact_f(task, D.ORIGINAL["sigma_min"])
    rows = {}
    for start_scale in (START_SCALE, 1.0):
        for k in ORIG_STEPS:
            for grid, sig in grids(f.sigma_min, 1.0, k).items():
                if k == 1 and grid != "linear":
                    continue
                rows[f"{start_scale}-{grid}-{k}"] = metrics(multistep(f, sig, start_scale), task, range(1))
    levels = torch.logspace(math.log10(f.sigma_min * 1.2), 0, 12)
    contraction = D.contraction_profile(task, levels, sigma_min=f.sigma_min, n=size(4000)).tolist()
    return dict(kind="exact", task=task, rows=rows, levels=levels.tolist(), contraction=contraction)


def job(kind, args):
    return dict(target=job_target, ablation=job_ablation, exact=job_exact)[kind](*args)


# ----- tables -------------------------------------------------------------------------------------------------------


def table_targets(results, floors):
    lines = [
        "## 1. Targets: default CD and the CT batch recipe, default multistep sigmas "
        "(`sample_consistency(model, n, num_steps=k)`)",
        "",
        "Target for k = 2, 4, 8: std ratio within 1 +/- 0.03 and W1 <= 1.2x the one-step W1 (seed 0 and "
        "median of 5 sampling seeds).",
        "",
    ]
    columns = [
        "task",
        "model",
        "k",
        "sigmas",
        "W1 seed 0 (x floor, x 1-step)",
        "W1 median (x floor, x 1-step)",
        "std ratio seed 0 / median",
        "gap mass (x true)",
        "pass",
    ]
    cells = []
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
            cells.append(
                [
                    r["task"],
                    "CT (batch recipe)" if r["method"] == "ct" else "CD (learned EDM teacher)",
                    k,
                    ", ".join(f"{v:.3g}" for v in cm_toy.sampling_sigmas(k).tolist()),
                    f"{s0['w1']:.4f} ({s0['w1'] / f:.2f}x, {s0['w1'] / one0:.2f}x)",
                    f"{med['w1']:.4f} ({med['w1'] / f:.2f}x, {med['w1'] / onem:.2f}x)",
                    f"{s0['std_ratio']:.3f} / {med['std_ratio']:.3f}",
                    f"{med['gap_mass']:.4f} ({med['gap_mass'] / max(med['gap_mass_true'], 1e-12):.1f}x)",
                    ok,
                ]
            )
    return "\n".join(lines + markdown(columns, cells))


def table_candidates(results, floors):
    keys = list(results[0]["candidates"]) if results else []
    levels = list(dict.fromkeys(k.rsplit("-", 1)[0] for k in keys))
    lines = [
        "## Candidate levels for `sampling_sigmas` (sigma_high-sigma_low; median W1 / noise floor, std ratio)",
        "",
    ]
    cells = []
    for r in results:
        f = floors[r["task"]]["w1"]
        c = r["candidates"]
        cells.append(
            [r["task"], r["method"]]
            + [
                f"{c[f'{lv}-{k}']['w1'] / f:.2f}x, {c[f'{lv}-{k}']['std_ratio']:.3f}"
                for lv in levels
                for k in (2, 4, 8)
            ]
        )
    columns = ["task", "model"] + [f"{lv} k={k}" for lv in levels for k in (2, 4, 8)]
    return "\n".join(lines + markdown(columns, cells))


def cell(m, f):
    return f"{m['w1']:.3f} ({m['w1'] / f:.1f}x), {m['std_ratio']:.2f}"


def table_original(ablations, exacts, floors):
    lines = [
        "## 2. The original setting: drift vs number of steps (three_gmm_1D unless noted)",
        "",
        "Start noise 1.5 sigma_max (as the original). Linear grid: k levels evenly from sigma_max = 1 (the "
        "original's 20 levels are k = 19 plus a no-op at sigma_min); Karras: rho = 7; high: sigma_max then "
        "levels geometric from 0.8 to 0.3. W1 (x floor), std ratio; seed 0 draw (k = 1 and 19 linear: median "
        "of 5).",
        "",
    ]
    cells = []
    for e in exacts:
        f = floors[e["task"]]["w1"]
        for start in (START_SCALE, 1.0):
            for grid in GRIDS:
                row = [f"exact f*, start {start} sigma_max ({e['task']})", grid]
                for k in ORIG_STEPS:
                    row.append(cell(e["rows"][f"{start}-{'linear' if k == 1 else grid}-{k}"]["seed0"], f))
                cells.append(row)
    for a in ablations:
        if not a["name"].startswith("original"):
            continue
        f = floors[a["task"]]["w1"]
        for grid in GRIDS:
            row = [f"learned f, {a['name']} ({a['task']})", grid]
            for k in ORIG_STEPS:
                r = a["rows"][f"{'linear' if k == 1 else grid}-{k}"]
                row.append(cell(r["median"] if (k in (1, 19) and grid == "linear") or k == 1 else r["seed0"], f))
            cells.append(row)
    return "\n".join(lines + markdown(["sampler uses", "grid"] + [f"k = {k}" for k in ORIG_STEPS], cells))


def table_ablations(ablations, floors):
    lines = [
        "## 3. Controlled experiments (three_gmm_1D; one change from the original setting each)",
        "",
        "W1 (x floor) and std ratio: one step (median of 5), the original's 19 linear steps (median of 5), and 4 "
        "steps on the 'high' grid (seed 0); outward bias: the largest mean signed error of f against f* away "
        "from the data mean over 12 levels in [0.06, 1], and the level where it occurs; spread: the largest "
        "one-step std(f) / std(f*) there.",
        "",
    ]
    columns = [
        "experiment",
        "tests",
        "1 step",
        "19 linear steps",
        "4 steps, high grid",
        "max outward bias (at sigma)",
        "max spread",
        "train s",
    ]
    cells = []
    for a in ablations:
        if a["task"] != "three_gmm_1D":
            continue
        f = floors[a["task"]]["w1"]
        one, lin, high = a["rows"]["linear-1"]["median"], a["rows"]["linear-19"]["median"], a["rows"]["high-4"]["seed0"]
        out = torch.tensor(a["profile"]["outward"])
        i = int(out.argmax())
        cells.append(
            [
                a["name"],
                ABLATIONS[a["name"]][1],
                cell(one, f),
                cell(lin, f),
                cell(high, f),
                f"{out[i]:+.3f} ({a['levels'][i]:.2f})",
                f"{max(a['profile']['spread']):.3f}",
                f"{a['seconds']:.0f}",
            ]
        )
    return "\n".join(lines + markdown(columns, cells))


def main(args):
    jobs = []
    if args.only != "ablations":
        jobs += [("target", (task, method)) for task in TASKS for method in ("ct", "cd")]
    if args.only != "targets":
        jobs += [("ablation", (name, "three_gmm_1D")) for name in ABLATIONS]
        jobs += [("ablation", ("original", "two_gmm_1D")), ("exact", ("three_gmm_1D",))]
    results = []
    for r in pool_map(job, *zip(*jobs), jobs=args.jobs):
        results.append(r)
        print(f"done: {r['kind']} {r.get('name', r.get('method', ''))} {r['task']}", flush=True)
    floors = {task: noise_floor(task, N) for task in TASKS}
    targets = [r for r in results if r["kind"] == "target"]
    ablations = [r for r in results if r["kind"] == "ablation"]
    exacts = [r for r in results if r["kind"] == "exact"]
    out = [
        "# Multistep consistency sampling: drift",
        "",
        f"`python -m benchmarks drift --jobs {args.jobs}` (n = 10,000; one training seed, 0, unless noted; one "
        "thread per model; noise floor = median W1 of 50 exact draws; times are wall-clock with several jobs "
        "sharing the machine).",
        "",
    ]
    out += ["Noise floor W1: " + ", ".join(f"{t} {floors[t]['w1']:.4f}" for t in TASKS), ""]
    if targets:
        out += [table_targets(targets, floors), "", table_candidates(targets, floors), ""]
    if ablations:
        out += [table_original(ablations, exacts, floors), "", table_ablations(ablations, floors), ""]
    print("\n".join(out))
    write_results("drift.md", out)
    write_results("drift.json", json.dumps(dict(floors=floors, results=results)))
