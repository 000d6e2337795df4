"""Does the model copy its training set? The data-built teacher against one-sample consistency training, on a finite
sample of a 2D task.

    python -m benchmarks memorisation [--points 500]

Training data: a fixed set of M points of ring8_2D (seed 123), drawn with replacement into every batch: their
empirical distribution, written as a mixture of M Gaussians of std 0.001 so that every cm_toy trainer takes it as a
task. Three one-step samplers learn from it: the PF-ODE of the set's own empirical distribution (64 Heun steps with
the set's exact denoiser, which batch_denoiser over the M points estimates: the map the data-built teacher distils),
distillation from that empirical denoiser (cm_toy.train_cd with empirical_denoiser, a 4-level walk) and iCT
(cm_toy.ct.train_ict: the one-sample target x0 + t z, no estimate of the denoiser from other points). For 10,000
one-step samples of each, the distance to the nearest training point, next to the same for 10,000 fresh exact samples
of ring8_2D: a sampler that generalises sits near the fresh samples' distance; one that memorises sits far below it.
Also each sampler's sliced W1 against the true ring8_2D over the noise floor.
"""

import torch

import cm_toy
from benchmarks.common import RUN, table, write_results

TASK, DATA_SEED, N = "ring8_2D", 123, 10_000
TASKS = None  # one fixed task
EMPIRICAL_SEED = cm_toy.distillation.EMPIRICAL_SEED_OFFSET  # the empirical teacher's draws, as train_cd's seed 0
EMPIRICAL_STD = 1e-3  # each training point as a Gaussian this narrow: the empirical distribution, for the trainers


def add_arguments(parser):
    parser.add_argument("--points", type=int, default=500, help="size M of the training set")


def nearest(samples, points):
    """Median and 10% quantile of each sample's distance to its nearest training point."""
    d = torch.cdist(samples.double(), points.double()).min(dim=1).values
    return d.median().item(), d.quantile(0.1).item()


def main(args):
    task = cm_toy.get_dataset(TASK)
    points = task.sample(args.points, torch.Generator().manual_seed(DATA_SEED))
    data = cm_toy.GaussianMixture([1 / len(points)] * len(points), points, [EMPIRICAL_STD] * len(points))
    steps = dict(steps=50) if RUN.smoke else {}
    empirical = lambda x, sigma: data.denoise(x, sigma).float()  # the training set's exact denoiser
    # train_cd(data, "empirical")'s teacher, binned finer than the points' spacing
    pool = data.sample(cm_toy.distillation.EMPIRICAL_SIZE, torch.Generator().manual_seed(EMPIRICAL_SEED))
    teacher = cm_toy.distillation.empirical_denoiser(pool, bin_width=0.01)
    noise = torch.randn(N, task.dim, generator=torch.Generator().manual_seed(0))
    sigmas = torch.cat([cm_toy.karras_sigmas(64), torch.zeros(1)])
    samplers = {
        "fresh exact samples of ring8_2D": task.sample(N, torch.Generator().manual_seed(7)),
        "PF-ODE of the training set's empirical distribution": cm_toy.heun_sampler(empirical, noise, sigmas),
        "empirical teacher distilled (train_cd, span=4)": cm_toy.sample_consistency(
            cm_toy.train_cd(data, teacher, span=4, progress=False, **steps).ema, N
        ),
        "one-sample consistency training (iCT)": cm_toy.sample_consistency(
            cm_toy.ct.train_ict(data, progress=False, **steps).ema, N
        ),
    }
    floor = cm_toy.noise_floor(task, N)["w1"]
    rows = []
    for name, samples in samplers.items():
        median, low = nearest(samples, points)
        w1 = cm_toy.evaluate(samples, task)["w1"]
        rows.append([name, f"{median:.4f}", f"{low:.4f}", f"{w1 / floor:.2f}x"])
    lines = [
        "# Does the model copy its training set?",
        "",
        f"`python -m benchmarks memorisation --points {args.points}`: {args.points} training points of {TASK} (seed "
        f"{DATA_SEED}); {N:,} one-step samples of each sampler (seed 0); distance of each sample to its nearest "
        "training point (median, 10% quantile); sliced W1 against the true task over the noise floor of the same size. "
        "Library defaults otherwise (the empirical teacher of 2^20 draws of the training set, binned at 0.01, finer "
        "than the points' spacing).",
        "",
    ]
    lines += table(["sampler", "nearest training point: median", "10% quantile", "W1 (x floor)"], rows)
    print("\n".join(lines))
    write_results("memorisation.md", lines)
