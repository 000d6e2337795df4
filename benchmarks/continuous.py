"""Continuous-time consistency training: every recipe, one and two steps, on the seed tasks; discrete CT alongside.

One- and two-step sample quality against the exact target, next to the noise floor, and training time: the published
recipes (Song et al. 2023's continuous CT, the default, and sCT), this project's damped recipe, Song 2023 with the
batch's denoiser for its tangent, and discrete CT with the same batch denoiser (cm_toy.train_ct, recipe "batch").

    python -m benchmarks continuous [--jobs N] [task ...]  # the four seed tasks by default, N (2) in parallel
    python -m benchmarks continuous --seeds 5 three_gmm_1D  # also training seeds 1..4 of damped (NaN check)

Writes benchmarks/results/continuous.md; with --seeds k > 1 it replaces only that file's "Training seeds" section.
Every continuous recipe starts from the same EDM model (train_edm defaults, seed 0), whose
training time is added to theirs; discrete CT (train_ct's "batch" recipe, the same batch denoiser) starts from fresh
weights. W1 is given for the seed-0 draw of 10,000 samples and as the median over 5 sampling seeds, each also as a
ratio to the noise floor. Times are wall-clock on one thread. With --seeds k, training seeds 1..k-1 of the damped
recipe start from their own EDM models (a NaN would show as a "diverged" row). --jobs runs tasks in parallel
processes, each on one thread.
"""

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import RUN, gap_ratio, noise_floor, pool_map, score, write_results, x_floor
from benchmarks.common import table as markdown

N = 10_000
SEEDS_HEADING = "## Training seeds (NaN check)"
TASKS = ("three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D")
JOBS = 2


def add_arguments(parser):
    parser.add_argument("--seeds", type=int, default=1, help="training seeds of the default recipe")


def scores(model, task):
    out = {}
    for steps in (1, 2):
        r = score(lambda n, s: cm_toy.sample_consistency(model, n, num_steps=steps, seed=s), task, N)
        out[steps] = (r["seed0"], r["median"])
    return out


def run(task, train_seeds):
    rows = []
    recipes = list(cm_toy.continuous.RECIPES)
    for seed in range(train_seeds):
        edm = fit(cm_toy.train_edm, task, seed=seed)
        if seed == 0:
            edm0 = edm
        for recipe in recipes if seed == 0 else ["damped"]:
            try:
                m = fit(cm_toy.train_continuous_ct, task, recipe=recipe, init=edm, seed=seed)
            except FloatingPointError as error:
                rows.append(dict(method=f"continuous {recipe}, seed {seed}", error=str(error)))
                continue
            rows.append(
                dict(
                    method=f"continuous {recipe}" + (f", seed {seed}" if seed else ""),
                    seconds=m.seconds + edm.seconds,
                    scores=scores(m.model, task),
                )
            )
            print(f"  {task}: {rows[-1]['method']} done in {rows[-1]['seconds']:.1f} s", flush=True)
    # Song 2023 with the batch's denoiser for the tangent's direction instead of the one-sample z (damped's direction).
    m = fit(cm_toy.train_continuous_ct, task, recipe="song2023", init=edm0, reference_batch=True)
    rows.append(
        dict(
            method="continuous song2023, batch tangent (reference_batch=True; this project's)",
            seconds=m.seconds + edm0.seconds,
            scores=scores(m.model, task),
        )
    )
    print(f"  {task}: {rows[-1]['method']} done in {rows[-1]['seconds']:.1f} s", flush=True)
    m = fit(cm_toy.train_ct, task, recipe="batch")  # the same batch denoiser; fresh weights
    rows.append(dict(method="discrete CT (batch recipe)", seconds=m.seconds, scores=scores(m.model, task)))
    print(f"  {task}: discrete CT done in {rows[-1]['seconds']:.1f} s", flush=True)
    return table(task, noise_floor(task, N), rows)


def table(task, floor, rows):
    f = floor["w1"]
    lines = [f"### {task}: noise floor W1 {f:.4f}, true gap mass {floor['gap_mass_true']:.4f}", ""]
    columns = "method, steps, W1 seed 0 (x floor), W1 median of 5 (x floor), gap mass (x true), mode mass err"
    cells = []
    for row in rows:
        if "error" in row:
            cells.append([row["method"], "-", f"diverged: {row['error']}", "", "", "", "", ""])
            continue
        for steps in (1, 2):
            s0, med = row["scores"][steps]
            cells.append(
                [
                    row["method"],
                    steps,
                    x_floor(s0["w1"], f),
                    x_floor(med["w1"], f),
                    f"{med['gap_mass']:.4f} ({gap_ratio(med):.1f}x)",
                    f"{med['mode_mass_err']:.3f}",
                    f"{med['std_ratio']:.3f}",
                    f"{row['seconds']:.0f}",
                ]
            )
    return "\n".join(lines + markdown(columns.split(", ") + ["std ratio", "train s"], cells))


def main(args):
    if args.seeds < 1:
        raise SystemExit(f"--seeds must be >= 1, got {args.seeds}")
    seeds = f"--seeds {args.seeds} " if args.seeds > 1 else ""
    if args.jobs != JOBS:
        seeds += f"--jobs {args.jobs} "
    out = [
        "# Continuous-time consistency training",
        "",
        f"`python -m benchmarks continuous {seeds}{' '.join(args.tasks)}` (n = 10,000 samples; gap mass, mode mass "
        "error and std ratio are medians over 5 sampling seeds; training seed 0 unless named; one thread; times "
        "measured on a shared, contended 2-core machine, so inflated).",
        "Original repository's continuous CT, one-step W1: 0.501 (three modes).",
        "",
    ]
    for text in pool_map(run, args.tasks, [args.seeds] * len(args.tasks), jobs=args.jobs):
        out += [text, ""]
        print(text, flush=True)
    path = RUN.out / "continuous.md"
    old = path.read_text() if path.exists() else ""
    if args.seeds > 1:  # keep the main table; (re)write the training-seeds section after it
        out = [old.split(SEEDS_HEADING)[0].rstrip(), "", SEEDS_HEADING, ""] + out[2:]
    elif SEEDS_HEADING in old:  # keep the training-seeds section of an earlier --seeds run after the new main table
        out += [SEEDS_HEADING + old.split(SEEDS_HEADING, 1)[1].rstrip("\n")]
    write_results("continuous.md", out)
