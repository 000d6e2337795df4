"""How long each notebook takes, top to bottom in a fresh kernel: the teacher's clock.

    python benchmarks/notebooks.py [--jobs 2] [NN ...]

Runs every notebook (or those whose names start with NN) as nbmake does, without saving outputs, and writes the
wall-clock seconds to benchmarks/results/notebooks.md (a run of only some notebooks prints its table without writing
it). Each notebook sets torch to one thread itself, so `--jobs 2` runs two side by side on two cores, as CI does.
Target: at most 120 s each.
"""

import argparse
import multiprocessing
import os
import pathlib
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import nbformat
import torch
from nbclient import NotebookClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import write_results

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
TARGET_S = 120


def run(path):
    """Execute one notebook in a fresh kernel in its own folder; return its wall-clock seconds."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose names start with these")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (each on one torch thread)")
    args = parser.parse_args()
    paths = [
        p
        for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
        if not args.prefixes or any(p.name.startswith(x) for x in args.prefixes)
    ]
    if not paths:
        sys.exit(f"no notebook starts with {' or '.join(args.prefixes)}")
    # spawn, not fork: a forked worker inherits the parent's ZeroMQ state and can wait forever on a kernel's reply.
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        seconds = list(pool.map(run, paths))
    lines = [
        "# Notebook run times",
        "",
        (
            f"`python benchmarks/notebooks.py --jobs {args.jobs}`: each notebook top to bottom in a fresh kernel, "
            f"{args.jobs} at a time, on {platform.processor() or platform.machine()} ({os.cpu_count()} cores), "
            f"torch {torch.__version__}. Target: at most {TARGET_S} s each on one thread."
        ),
        "",
        "| notebook | seconds | within target |",
        "|---|---:|:---:|",
    ]
    for path, s in zip(paths, seconds):
        lines.append(f"| [{path.stem}](../../notebooks/{path.name}) | {s:.0f} | {'yes' if s <= TARGET_S else 'no'} |")
    lines += [f"| all | {sum(seconds):.0f} | |", ""]
    print("\n".join(lines))
    if not args.prefixes:  # the results file holds the whole series
        write_results("notebooks.md", lines)


if __name__ == "__main__":
    main()
