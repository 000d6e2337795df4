"""The GPU path, measured: train EDM and distil it (library defaults) on the CPU and, where present, on CUDA, and score
one-step samples against the exact target.

    python benchmarks/gpu.py [task]

Prints a table and writes benchmarks/results/gpu.md. The CPU runs use one thread (the fastest setting for these small
MLPs on a 2-core machine). Same seed on both devices; the numbers differ slightly because CUDA's random streams and
kernels differ from the CPU's.
"""

import os
import sys
import time

import torch

import cm_toy

N = 10_000
HERE = os.path.dirname(os.path.abspath(__file__))


def run(task, device):
    start = time.perf_counter()
    edm = cm_toy.train_edm(task, device=device, progress=False)
    edm_seconds = time.perf_counter() - start
    start = time.perf_counter()
    cd = cm_toy.train_cd(task, edm, progress=False)
    cd_seconds = time.perf_counter() - start
    start = time.perf_counter()
    edm_w1 = cm_toy.evaluate_seeds(lambda n, s: cm_toy.sample_edm(edm, n, seed=s), task, n=N)["w1"]
    cd_w1 = cm_toy.evaluate_seeds(lambda n, s: cm_toy.sample_consistency(cd, n, seed=s), task, n=N)["w1"]
    sample_seconds = time.perf_counter() - start
    return dict(
        device=device,
        edm_seconds=edm_seconds,
        cd_seconds=cd_seconds,
        sample_seconds=sample_seconds,
        edm_w1=edm_w1,
        cd_w1=cd_w1,
    )


def main(argv):
    task = argv[0] if argv else "three_gmm_1D"
    if task not in cm_toy.list_datasets():
        sys.exit(f"unknown task {task!r}; valid choices: {', '.join(cm_toy.list_datasets())}")
    torch.set_num_threads(1)
    floor = cm_toy.noise_floor(task, N)["w1"]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = [run(task, device) for device in devices]
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    lines = [
        f"# The GPU path ({task})",
        "",
        f"`python benchmarks/gpu.py {task}`: train_edm then train_cd with the library defaults, seed 0; W1 median "
        f"of 5 sampling seeds of {N:,} samples over the noise floor ({floor:.4f}); CPU with one thread; GPU: {name}; "
        f"torch {torch.__version__}.",
        "",
        "| device | EDM train s | CD train s | sampling + scoring s | EDM Heun W1 (x floor) | CD 1-step W1 (x floor) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['device']} | {r['edm_seconds']:.1f} | {r['cd_seconds']:.1f} | {r['sample_seconds']:.1f} | "
            f"{r['edm_w1'] / floor:.2f}x | {r['cd_w1'] / floor:.2f}x |"
        )
    md = "\n".join(lines) + "\n"
    print(md)
    out = os.environ.get("CM_TOY_RESULTS", os.path.join(HERE, "results"))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu.md"), "w") as f:
        f.write(md)


if __name__ == "__main__":
    main(sys.argv[1:])
