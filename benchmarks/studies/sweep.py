"""Hyperparameter sweep of consistency distillation: one axis at a time around the defaults, one-step quality.

    python -m benchmarks sweep [--force]

On three_gmm_1D (seed 0), each setting changes one keyword argument of cm_toy.train_cd (or of its EDM teacher's
network) from the sweep's base and measures the one-step samples: median W1 over 3 sampling seeds of 10,000 samples
as a ratio to the noise floor (the median W1 of exact samples of the same size), median gap mass (share of samples
where the true density is below 1% of its peak; exact samples: about 0.0024), and training seconds on one thread. A
last axis retrains the base with training seeds 1 and 2: the run-to-run spread that separates a real effect from noise.

The network is the library's MLP (width 128, depth 3) with Fourier features of its input x_in (x_features=16 at
x_scale=1, networks.InputFeatures; Tancik et al. 2020, arXiv 2006.10739). The x_features axis (0 = x_in alone, the
network before those features) and the x_scale axis change them; the metric axis swaps train_cd's pseudo-Huber
c = 0.03 for squared L2; the levels axis draws the training levels uniformly (Song et al. 2023) or from iCT's
log-normal with another P_mean (the base: P_mean = -0.5, P_std = 2).

Budget: every setting trains for BASE_STEPS = 2,000 steps (a quarter of the library default, 8,000) so the whole
sweep fits in about 15 minutes on a loaded 2-core machine; the steps axis adds 1,000, 3,000, 4,000 and the library's
8,000. The student starts from the teacher's weights (train_cd init="teacher"), so it has the teacher's network: one
EDM teacher (train_edm defaults otherwise) per (sigma_data, x_features, x_scale) is shared by the settings that need
it, and with the other suites through benchmarks/cache. The exception is the width axis, where the student must start
fresh (init=None, the default input features) because a copied teacher fixes the width (train_cd refuses another
`hidden` when it copies the teacher); that axis therefore has its own 128 reference. sigma_max is used both in training
and for sampling.

Results are kept in benchmarks/results/sweep.json (keyed by setting); settings already there are skipped unless
--force (which measures them again from the cached models; add --retrain to train them again too).
The table is printed and written to benchmarks/results/sweep.md. Times are wall-clock and inflated by whatever else
runs on the machine.
"""

import json

import torch

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import RUN, median, noise_floor, write_results

TASK, SEED, N, SEEDS = "three_gmm_1D", 0, 10_000, range(3)
BASE_STEPS = 2000  # a quarter of the library default (8,000), to fit the sweep's budget

# (axis, value shown, overrides on top of the base: train_cd's, or the teacher's sigma_data / x_features / x_scale).
# The base is the library default except steps.
SETTINGS = [("base", "library defaults, 2000 steps", {})]
SETTINGS += [("sigma_max", v, dict(sigma_max=v)) for v in (1.0, 10.0)]  # 80 is the base
SETTINGS += [("sigma_data", v, dict(sigma_data=v)) for v in (0.5, 2.0)]  # 1 is the base
SETTINGS += [("num_scales", v, dict(num_scales=v)) for v in (10, 20, 80)]  # 40 is the base
SETTINGS += [("metric", "squared L2", dict(c=None))]  # pseudo-Huber c = 0.03 is the base
SETTINGS += [("levels P_mean", "uniform", dict(P_mean=None))]  # log-normal P_mean = -0.5 is the base
SETTINGS += [("levels P_mean", v, dict(P_mean=v)) for v in (-1.1, 0.0)]
SETTINGS += [("target_decay", v, dict(target_decay=v)) for v in (0.0, 0.99)]  # 0.95 is the base
SETTINGS += [("x_features", v, dict(x_features=v)) for v in (0, 8, 32)]  # 16 is the base; 0: x_in alone
SETTINGS += [("x_scale", v, dict(x_scale=v)) for v in (0.5, 2.0, 4.0)]  # 1 is the base
SETTINGS += [("hidden (fresh init)", v, dict(hidden=v, init=None)) for v in (64, 128, 256)]
SETTINGS += [("steps", v, dict(steps=v)) for v in (1000, 3000, 4000, 8000)]  # 2000 is the base; 8000 the library's
SETTINGS += [("seed (training)", v, dict(seed=v)) for v in (1, 2)]  # 0 is the base: the run-to-run spread
BASE_VALUES = dict(
    sigma_max=80.0,
    sigma_data=1.0,
    num_scales=40,
    metric="pseudo-Huber c=0.03",
    target_decay=0.95,
    x_features=16,
    x_scale=1.0,
    steps=BASE_STEPS,
    **{"levels P_mean": -0.5, "seed (training)": 0},
)
# (where the base sits on each axis; notebook 10 reads it from sweep.json's _meta)


def key(axis, value):
    return f"{axis}={value}"


def add_arguments(parser):
    parser.add_argument("--force", action="store_true", help="rerun settings already in sweep.json")


def load():
    path = RUN.out / "sweep.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save(cache):
    RUN.out.mkdir(parents=True, exist_ok=True)
    tmp = RUN.out / "sweep.json.tmp"
    tmp.write_text(json.dumps(cache, indent=1))
    tmp.replace(RUN.out / "sweep.json")


def run(force=False):
    # Settings no longer in SETTINGS (a renamed or dropped axis) would linger in the cache and in notebook 10:
    # drop them.
    valid = {key(axis, value) for axis, value, _ in SETTINGS}
    cache = {k: v for k, v in load().items() if k in valid}
    floor = noise_floor(TASK, N)
    cache["_meta"] = dict(
        task=TASK,
        seed=SEED,
        n=N,
        sampling_seeds=list(SEEDS),
        base_steps=BASE_STEPS,
        base_values=BASE_VALUES,
        floor_w1=floor["w1"],
        gap_mass_true=floor["gap_mass_true"],
        threads=1,
    )
    teachers = {}
    for axis, value, overrides in SETTINGS:
        k = key(axis, value)
        if k in cache and not force:
            continue
        overrides = dict(overrides)
        # The teacher's settings: the student copies the teacher's network, so its input features are the teacher's.
        net = dict(
            sigma_data=overrides.pop("sigma_data", 1.0),
            x_features=overrides.pop("x_features", 16),
            x_scale=overrides.pop("x_scale", 1.0),
        )
        teacher_key = tuple(net.values())
        if teacher_key not in teachers:
            teachers[teacher_key] = fit(cm_toy.train_edm, TASK, seed=SEED, **net)
            print(f"  EDM teacher {net}: {teachers[teacher_key].seconds:.1f} s", flush=True)
        teacher = teachers[teacher_key]
        # Every other train_cd argument at its library default (e.g. pseudo-Huber c = 0.03). The teacher keeps seed 0.
        kwargs = dict(seed=SEED, steps=BASE_STEPS)
        kwargs.update(overrides)
        trained = fit(cm_toy.train_cd, TASK, teacher, **kwargs)
        model, seconds = trained.model, trained.seconds
        sigma_max = kwargs.get("sigma_max", cm_toy.SIGMA_MAX)
        one_step = torch.tensor([float(sigma_max)])  # one step: f evaluated at sigma_max only
        med = median(
            lambda n, s: cm_toy.sample_consistency(model, n, sigmas=one_step, seed=s, sigma_max=sigma_max),
            TASK,
            N,
            SEEDS,
        )
        overrides.update(net)
        cache[k] = dict(
            axis=axis,
            value=value,
            overrides={a: b for a, b in overrides.items()},
            seconds=seconds,
            w1=med["w1"],
            w1_ratio=med["w1"] / floor["w1"],
            gap_mass=med["gap_mass"],
            mode_mass_err=med["mode_mass_err"],
            std_ratio=med["std_ratio"],
            final_loss=float(torch.tensor(trained.losses[-200:]).mean()),
        )
        save(cache)
        print(f"  {k}: W1 {cache[k]['w1_ratio']:.2f}x floor, gap {med['gap_mass']:.4f}, {seconds:.1f} s", flush=True)
    save(cache)
    return cache


def table(cache):
    meta = cache["_meta"]
    lines = [
        f"One-step consistency distillation on {meta['task']} (seed {meta['seed']}), one axis at a time around the "
        f"library defaults with {meta['base_steps']} training steps. W1: median over {len(meta['sampling_seeds'])} "
        f"sampling seeds of {meta['n']:,} samples, as a ratio to the noise floor (W1 {meta['floor_w1']:.4f}); "
        f"gap mass: exact samples {meta['gap_mass_true']:.4f}. Seconds: training on one thread of a shared, "
        f"loaded 2-core machine (inflated by contention).",
        "",
        "| axis | value | W1 (x floor) | gap mass | mode mass err | train s |",
        "|---|---|---|---|---|---|",
    ]
    for axis, value, _ in SETTINGS:
        r = cache.get(key(axis, value))
        if r is None:
            continue
        lines.append(
            f"| {axis} | {value} | {r['w1_ratio']:.2f} | {r['gap_mass']:.4f} | {r['mode_mass_err']:.3f} "
            f"| {r['seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(args):
    md = table(run(force=args.force))
    print(md)
    write_results("sweep.md", "# Hyperparameter sweep (`python -m benchmarks sweep`)\n\n" + md)
