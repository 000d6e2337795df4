"""The harder toy tasks: EDM and one-step consistency distillation on each, against the exact target.

    python -m benchmarks tasks [task ...]
    python -m benchmarks tasks --tuned [task ...]     # only the task-specific budgets of TUNED

Writes benchmarks/results/tasks.md (--tuned: tasks_tuned.md; a subset of the tasks: tasks_<names>.md). Every model
trains with its library defaults (train_edm, then train_cd with that EDM model as the teacher; seed 0, one thread). W1
is exact in 1D and sliced (the mean over 32 fixed directions, each exact) in 2D; it is given for the seed-0 draw of
10,000 samples and as the median over 5 sampling seeds, each also as a ratio to the noise floor (the median W1 of 50
exact draws of the same size). Targets: one-step CD W1 <= 3x the floor on every 1D task; every 2D mode covered, mode
mass error <= 0.03. Tasks in TUNED also get rows with a task-specific budget (keyword overrides of train_edm /
train_cd), labelled with the overrides; the defaults stay. --jobs runs tasks in parallel processes (each on one
thread).
"""

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import gap_ratio, noise_floor, pool_map, score, write_results, x_floor
from benchmarks.common import table as markdown

N = 10_000
TASKS = ("many_modes_1D", "wide_narrow_1D", "rare_far_1D", "ring8_2D", "grid25_2D")

# Task-specific budgets, reported as extra rows. many_modes_1D (seven modes of std 0.08): three times the teacher's
# training at a higher learning rate. The defaults already meet the target there; the rows show that a better teacher
# (lower W1 and gap mass) gives a student with lower W1 but not lower one-step gap mass: at this budget the one-step
# map's jumps across the gaps, not the teacher, set it (results/tasks.md).
TUNED = {"many_modes_1D": dict(edm=dict(steps=12_000, lr=5e-3), cd=dict())}


def add_arguments(parser):
    parser.add_argument("--tuned", action="store_true", help="only the task-specific budgets of TUNED")


def default_tasks(args):
    return list(TUNED) if args.tuned else TASKS


def overrides_label(overrides):
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v:g}" for k, v in overrides.items()) or "defaults"


def run_budget(task, edm_kw, cd_kw, suffix=""):
    edm = fit(cm_toy.train_edm, task, **edm_kw)
    cd = fit(cm_toy.train_cd, task, edm, **cd_kw)
    samplers = [
        ("EDM, Heun 64", lambda n, s: cm_toy.sample_edm(edm.model, n, seed=s), edm.seconds),
        ("CD, 1 step", lambda n, s: cm_toy.sample_consistency(cd.model, n, num_steps=1, seed=s), cd.seconds),
        ("CD, 2 steps", lambda n, s: cm_toy.sample_consistency(cd.model, n, num_steps=2, seed=s), cd.seconds),
    ]
    rows = [dict(method=name + suffix, seconds=seconds, **score(sample, task, N)) for name, sample, seconds in samplers]
    print(f"  {task}{suffix}: EDM {edm.seconds:.0f} s, CD {cd.seconds:.0f} s", flush=True)
    return rows


def run(task, defaults=True):
    rows = run_budget(task, {}, {}) if defaults else []
    if task in TUNED:
        edm_kw, cd_kw = TUNED[task]["edm"], TUNED[task]["cd"]
        rows += run_budget(task, edm_kw, cd_kw, f" (EDM {overrides_label(edm_kw)}; CD {overrides_label(cd_kw)})")
    return table(task, noise_floor(task, N), rows)


def table(task, floor, rows):
    f = floor["w1"]
    kind = "sliced W1" if cm_toy.get_dataset(task).dim > 1 else "W1"
    lines = [
        f"### {task}: noise floor {kind} {f:.4f}, mode mass err {floor['mode_mass_err']:.4f}, "
        f"true gap mass {floor['gap_mass_true']:.4f}",
        "",
    ]
    columns = [
        "sampler",
        "W1 seed 0 (x floor)",
        "W1 median of 5 (x floor)",
        "mode mass err seed 0 / median",
        "gap mass (x true)",
        "std ratio",
        "train s",
    ]
    cells = [
        [
            row["method"],
            x_floor(row["seed0"]["w1"], f),
            x_floor(row["median"]["w1"], f),
            f"{row['seed0']['mode_mass_err']:.3f} / {row['median']['mode_mass_err']:.3f}",
            f"{row['median']['gap_mass']:.4f} ({gap_ratio(row['median']):.1f}x)",
            f"{row['median']['std_ratio']:.3f}",
            f"{row['seconds']:.0f}",
        ]
        for row in rows
    ]
    return "\n".join(lines + markdown(columns, cells))


def main(args):
    if args.tuned:
        unknown = [t for t in args.tasks if t not in TUNED]
        if unknown:
            raise SystemExit(f"no task-specific budget for {', '.join(unknown)}; TUNED has: {', '.join(TUNED)}")
    command = "python -m benchmarks tasks" + (" --tuned " + " ".join(args.tasks) if args.tuned else "")
    out = [
        "# The new toy tasks: EDM and one-step consistency distillation"
        + (", task-specific budgets" if args.tuned else ""),
        "",
        f"`{command}` (n = 10,000 samples; gap mass and std ratio are medians over 5 sampling "
        "seeds; training seed 0; one thread; times measured on a shared, busy machine, so inflated).",
        "",
    ]
    for text in pool_map(run, args.tasks, [not args.tuned] * len(args.tasks), jobs=args.jobs):
        out += [text, ""]
        print(text, flush=True)
    tasks = list(args.tasks)
    name = "tasks_tuned.md" if args.tuned else "tasks.md" if tasks == list(TASKS) else f"tasks_{'_'.join(tasks)}.md"
    write_results(name, out)
