"""The GPU path, measured: EDM trained and distilled (library defaults) on the CPU and, where present, on CUDA.

    python -m benchmarks gpu [task]

Scores one-step samples against the exact target, prints a table and writes benchmarks/results/gpu.md. The CPU runs
use one thread (the fastest setting for these small MLPs on a 2-core machine). Same seed on both devices; the numbers
differ slightly because CUDA's random streams and kernels differ from the CPU's. Training time is what this study
measures, so its models always train afresh (no cache).
"""

import time

import torch

import cm_toy
from benchmarks.cache import fit
from benchmarks.common import median, noise_floor, table, write_results

N = 10_000
TASKS = ("three_gmm_1D",)


def run(task, device):
    edm = fit(cm_toy.train_edm, task, device=device, cache=False)
    cd = fit(cm_toy.train_cd, task, edm, cache=False)
    start = time.perf_counter()
    edm_w1 = median(lambda n, s: cm_toy.sample_edm(edm.model, n, seed=s), task, N)["w1"]
    cd_w1 = median(lambda n, s: cm_toy.sample_consistency(cd.model, n, seed=s), task, N)["w1"]
    sample_seconds = time.perf_counter() - start
    return dict(
        device=device,
        edm_seconds=edm.seconds,
        cd_seconds=cd.seconds,
        sample_seconds=sample_seconds,
        edm_w1=edm_w1,
        cd_w1=cd_w1,
    )


def main(args):
    if len(args.tasks) != 1:
        raise SystemExit(f"the GPU study measures one task, got {len(args.tasks)}: {' '.join(args.tasks)}")
    task = args.tasks[0]
    floor = noise_floor(task, N)["w1"]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = [run(task, device) for device in devices]
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    lines = [
        f"# The GPU path ({task})",
        "",
        f"`python -m benchmarks gpu {task}`: train_edm then train_cd with the library defaults, seed 0; W1 median "
        f"of 5 sampling seeds of {N:,} samples over the noise floor ({floor:.4f}); CPU with one thread; GPU: {name}; "
        f"torch {torch.__version__}.",
        "",
    ]
    columns = ["device", "EDM train s", "CD train s", "sampling + scoring s", "EDM Heun W1 (x floor)"]
    cells = [
        [
            r["device"],
            f"{r['edm_seconds']:.1f}",
            f"{r['cd_seconds']:.1f}",
            f"{r['sample_seconds']:.1f}",
            f"{r['edm_w1'] / floor:.2f}x",
            f"{r['cd_w1'] / floor:.2f}x",
        ]
        for r in rows
    ]
    lines += table(columns + ["CD 1-step W1 (x floor)"], cells)
    print("\n".join(lines))
    write_results("gpu.md", lines)
