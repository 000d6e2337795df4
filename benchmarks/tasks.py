"""The new toy tasks (issue 7): EDM and one-step consistency distillation on each, against the exact target.

    python benchmarks/tasks.py [task ...]
    python benchmarks/tasks.py --tuned [task ...]     # only the task-specific budgets of TUNED

Writes benchmarks/results/tasks.md (--tuned: tasks_tuned.md). Every model trains with its library defaults (train_edm,
then train_cd with that EDM model as the teacher; seed 0, one thread). W1 is exact in 1D and sliced (the mean over 32
fixed directions, each exact) in 2D; it is given for the seed-0 draw of 10,000 samples and as the median over 5
sampling seeds, each also as a ratio to the noise floor (the median W1 of 50 exact draws of the same size). Targets
(issue 7): one-step CD W1 <= 3x the floor on every 1D task; every 2D mode covered, mode mass error <= 0.03. Tasks in
TUNED also get rows with a task-specific budget (keyword overrides of train_edm / train_cd), labelled with the
overrides; the defaults stay.
"""

import sys
import time

import torch
from common import task_args, write_results

import cm_toy

N, SEEDS = 10_000, range(5)
TASKS = ["many_modes_1D", "wide_narrow_1D", "rare_far_1D", "ring8_2D", "grid25_2D"]

# Task-specific budgets, reported as extra rows. many_modes_1D (seven modes of std 0.08): three times the teacher's
# training at a higher learning rate. The defaults already meet the target there; the rows show that a better teacher
# (lower W1 and gap mass) gives a student with lower W1 but not lower one-step gap mass: at this budget the one-step
# map's jumps across the gaps, not the teacher, set it (results/tasks.md).
TUNED = {"many_modes_1D": dict(edm=dict(steps=12_000, lr=5e-3), cd=dict())}


def _label(overrides):
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v:g}" for k, v in overrides.items()) or "defaults"


def samplers(edm, cd, suffix=""):
    yield "EDM, Heun 64" + suffix, lambda n, s: cm_toy.sample_edm(edm, n, seed=s)
    yield "CD, 1 step" + suffix, lambda n, s: cm_toy.sample_consistency(cd, n, num_steps=1, seed=s)
    yield "CD, 2 steps" + suffix, lambda n, s: cm_toy.sample_consistency(cd, n, num_steps=2, seed=s)


def run_budget(task, edm_kw, cd_kw, suffix=""):
    start = time.perf_counter()
    edm = cm_toy.train_edm(task, progress=False, **edm_kw)
    edm_seconds = time.perf_counter() - start
    start = time.perf_counter()
    cd = cm_toy.train_cd(task, edm, progress=False, **cd_kw)
    cd_seconds = time.perf_counter() - start
    rows = []
    for name, sample in samplers(edm, cd, suffix):
        seed0 = cm_toy.evaluate(sample(N, 0), task)
        med = cm_toy.evaluate_seeds(sample, task, n=N, seeds=SEEDS)
        seconds = edm_seconds if name.startswith("EDM") else cd_seconds
        rows.append(dict(method=name, seed0=seed0, med=med, seconds=seconds))
    print(f"  {task}{suffix}: EDM {edm_seconds:.0f} s, CD {cd_seconds:.0f} s", flush=True)
    return rows


def run(task, *, defaults=True, tuned=True):
    floor = cm_toy.noise_floor(task, N)
    rows = run_budget(task, {}, {}) if defaults else []
    if tuned and task in TUNED:
        edm_kw, cd_kw = TUNED[task]["edm"], TUNED[task]["cd"]
        rows += run_budget(task, edm_kw, cd_kw, f" (EDM {_label(edm_kw)}; CD {_label(cd_kw)})")
    return floor, rows


def table(task, floor, rows):
    f = floor["w1"]
    kind = "sliced W1" if cm_toy.get_dataset(task).dim > 1 else "W1"
    lines = [
        f"### {task}: noise floor {kind} {f:.4f}, mode mass err {floor['mode_mass_err']:.4f}, "
        f"true gap mass {floor['gap_mass_true']:.4f}",
        "",
        "| sampler | W1 seed 0 (x floor) | W1 median of 5 (x floor) | mode mass err seed 0 / median | "
        "gap mass (x true) | std ratio | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s0, med = row["seed0"], row["med"]
        gap_ratio = med["gap_mass"] / max(med["gap_mass_true"], 1e-12)
        lines.append(
            f"| {row['method']} | {s0['w1']:.4f} ({s0['w1'] / f:.2f}x) | "
            f"{med['w1']:.4f} ({med['w1'] / f:.2f}x) | "
            f"{s0['mode_mass_err']:.3f} / {med['mode_mass_err']:.3f} | {med['gap_mass']:.4f} "
            f"({gap_ratio:.1f}x) | {med['std_ratio']:.3f} | {row['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(tasks, tuned_only=False):
    torch.set_num_threads(1)
    command = "python benchmarks/tasks.py" + (" --tuned " + " ".join(tasks) if tuned_only else "")
    out = [
        "# The new toy tasks: EDM and one-step consistency distillation"
        + (", task-specific budgets" if tuned_only else ""),
        "",
        f"`{command}` (n = 10,000 samples; gap mass and std ratio are medians over 5 sampling "
        "seeds; training seed 0; one thread; times measured on a shared, busy machine, so inflated).",
        "",
    ]
    for task in tasks:
        floor, rows = run(task, defaults=not tuned_only)
        out += [table(task, floor, rows), ""]
        print(out[-2], flush=True)
    name = "tasks_tuned.md" if tuned_only else "tasks.md" if tasks == TASKS else f"tasks_{'_'.join(tasks)}.md"
    write_results(name, out)


if __name__ == "__main__":
    tasks, tuned_only = task_args(sys.argv[1:], TUNED)
    main(tasks or (list(TUNED) if tuned_only else TASKS), tuned_only=tuned_only)
