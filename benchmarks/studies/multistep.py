"""Does sampling with more steps ever hurt? The default consistency models with 1, 2, 4 and 8 steps, on the original
tasks and on mixtures no default was tuned on.

    python -m benchmarks multistep [task ...] [--jobs N]

For each task: an EDM model and CD from it (cm_toy.train_edm, cm_toy.train_cd, library defaults, seed 0), the default
continuous CT from the same EDM model (cm_toy.train_continuous_ct) and the exact consistency function f* with the same
noise. Each is sampled with 1, 2, 4 and 8 steps at the library's default levels (cm_toy.schedules.sampling_sigmas).
Scores: W1 over the noise floor (median of 5 sampling seeds of 10,000 samples), its ratio to the same model's one-step
W1, gap mass over its true value, std ratio; the same W1 with 100,000 samples (seeds 100-104, over the floor of that
size); and the path error, the mean |x - x*| between the model's samples and f*'s from the same noise (the same seed
draws the same noise at every step for both), median over seeds 0-4: a model's own error, free of the seed luck that
W1 of 10,000 samples carries. 'within target': the k-step W1 at most 1.2 x the one-step W1 (+ 0.003) and a std ratio
within 1 +- 0.03, judged at n = 10,000 and again at n = 100,000. At n = 10,000 the test is finer than the seed luck
of W1 itself: the exact f*, whose samples are exact at any number of steps, fails it on five of the seven tasks. At
n = 100,000 the noise floor is about a third as large and f* passes everywhere, so that column is the verdict.

The untuned mixtures, fixed here before any model was trained on them:
- narrow_mode_1D: three equal modes at -1.5, 0, 1.5 with stds 0.15, 0.3, 0.3 (one narrow mode);
- unequal_weights_1D: three modes at -1.5, 0, 1.5 (std 0.2) with weights 0.6, 0.25, 0.15;
- unequal_spacing_1D: three equal modes at -2, -0.5, 1.5 (std 0.2).
"""

import torch

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import exact_f, noise_floor, pool_map, table, write_results

UNTUNED = {
    "narrow_mode_1D": ([1 / 3] * 3, [-1.5, 0.0, 1.5], [0.15, 0.3, 0.3]),
    "unequal_weights_1D": ([0.6, 0.25, 0.15], [-1.5, 0.0, 1.5], [0.2] * 3),
    "unequal_spacing_1D": ([1 / 3] * 3, [-2.0, -0.5, 1.5], [0.2] * 3),
}
for _name, (_w, _m, _s) in UNTUNED.items():
    if _name not in cm_toy.list_datasets():
        cm_toy.register_dataset(_name, _w, _m, _s, "an untuned mixture (benchmarks/studies/multistep.py)")

TASKS = ("three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D", *UNTUNED)
JOBS = 2
N, SEEDS, STEPS = 10_000, range(5), (1, 2, 4, 8)
N_BIG, SEEDS_BIG = 100_000, range(100, 105)


def within_target(m, one_step_w1):
    """The target: W1 at most 1.2 x the one-step W1 (+ 0.003) and a std ratio within 1 +- 0.03."""
    return m["w1"] <= 1.2 * one_step_w1 + 0.003 and abs(m["std_ratio"] - 1) <= 0.03


def run(task):
    torch.set_num_threads(1)
    floor, floor_big = noise_floor(task, N)["w1"], noise_floor(task, N_BIG)["w1"]
    edm = fit(cm_toy.train_edm, task)
    models = {
        "exact f*": exact_f(task),
        "CD (EDM teacher)": fit(cm_toy.train_cd, task, edm).model,
        "continuous CT (default)": fit(cm_toy.train_continuous_ct, task, init=edm).model,
    }
    rows = []
    for name, f in models.items():
        one = one_big = None
        for k in STEPS:
            sample = lambda n, s: cm_toy.sample_consistency(f, n, num_steps=k, seed=s)  # noqa: B023
            m = cm_toy.evaluate_seeds(sample, task, n=N, seeds=SEEDS)
            big = cm_toy.evaluate_seeds(sample, task, n=N_BIG, seeds=SEEDS_BIG)
            exact = lambda s: cm_toy.sample_consistency(models["exact f*"], N, num_steps=k, seed=s)  # noqa: B023
            path = torch.tensor([(sample(N, s) - exact(s)).abs().mean().item() for s in SEEDS]).median().item()
            one, one_big = one or m["w1"], one_big or big["w1"]
            ok, ok_big = within_target(m, one), within_target(big, one_big)
            gap = m["gap_mass"] / m["gap_mass_true"]
            cells = [f"{m['w1'] / floor:.2f}x", f"{m['w1'] / one:.2f}", f"{gap:.1f}x", f"{m['std_ratio']:.3f}"]
            cells += ["yes" if ok else "no", f"{big['w1'] / floor_big:.2f}x", f"{big['w1'] / one_big:.2f}"]
            cells += [f"{big['std_ratio']:.3f}", "yes" if ok_big else "no", f"{path:.4f}"]
            rows.append([task, name, k, *cells])
        print(f"  {task}: {name} done", flush=True)
    return rows


def main(args):
    rows = [row for rows in pool_map(run, args.tasks, jobs=args.jobs) for row in rows]
    lines = [
        "# Does sampling with more steps hurt?",
        "",
        "`python -m benchmarks multistep`: library defaults (seed 0), levels from cm_toy.schedules.sampling_sigmas; "
        "W1 median of 5 sampling seeds of 10,000 samples over the noise floor and over the same model's one-step W1; "
        "'within target': W1 <= 1.2 x one-step + 0.003 and std ratio within 1 +- 0.03, at n = 10,000 and again at "
        "n = 100,000 (5 sampling seeds each). At n = 10,000 the test is finer than W1's own seed luck: the exact f*, "
        "whose samples are exact at any number of steps, fails it on some tasks. At n = 100,000 it passes everywhere, "
        "so that column is the verdict. The last three tasks are mixtures no default was tuned on (defined in "
        "benchmarks/studies/multistep.py).",
        "",
    ]
    columns = ["task", "model", "steps", "W1 (x floor)", "W1 / one-step W1", "gap mass (x true)", "std ratio"]
    columns += ["within target", "n = 100,000: W1 (x its floor)", "W1 / one-step W1", "std ratio", "within target"]
    lines += table(columns + ["path error vs f*"], rows)
    print("\n".join(lines))
    write_results("multistep.md", lines)
