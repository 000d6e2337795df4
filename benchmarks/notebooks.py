"""How long each notebook takes, top to bottom in a fresh kernel: the teacher's clock.

    python -m benchmarks notebooks [--jobs 2] [NN ...]

Runs every notebook (or those whose names start with NN) as nbmake does, without saving outputs, and writes the
wall-clock seconds to benchmarks/results/notebooks.md (a run of only some notebooks prints its table without writing
it). Each notebook sets torch to one thread itself, so `--jobs 2` runs two side by side on two cores, as CI does.
Target: at most 120 s each. --smoke times a one-cell stand-in notebook instead of the series: it tests this suite's
machinery, not the notebooks (their own tests run them).
"""

import os
import platform
import time

import torch

from benchmarks.common import ROOT, RUN, pool_map, table, write_results

NOTEBOOKS = ROOT / "notebooks"
TARGET_S = 120


def add_arguments(parser):
    parser.add_argument("prefixes", nargs="*", metavar="NN", help="only notebooks whose names start with these")


def run(path):
    """Execute one notebook in a fresh kernel in its own folder; return its wall-clock seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def stand_in():
    """A one-cell notebook in the run's folder, named like the series' files."""
    import nbformat

    path = RUN.out / "00_stand_in.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1 + 1)")]), path)
    return path


def main(args):
    paths = [
        p
        for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
        if not args.prefixes or any(p.name.startswith(x) for x in args.prefixes)
    ]
    if not paths:
        raise SystemExit(f"no notebook starts with {' or '.join(args.prefixes)}")
    if RUN.smoke:
        RUN.out.mkdir(parents=True, exist_ok=True)
        paths = [stand_in()]
    seconds = list(pool_map(run, paths, jobs=args.jobs))  # spawned workers: see common.pool_map
    lines = [
        "# Notebook run times",
        "",
        (
            f"`python -m benchmarks notebooks --jobs {args.jobs}`: each notebook top to bottom in a fresh kernel, "
            f"{args.jobs} at a time, on {platform.processor() or platform.machine()} ({os.cpu_count()} cores), "
            f"torch {torch.__version__}. Target: at most {TARGET_S} s each on one thread."
        ),
        "",
    ]
    rows = [
        [f"[{p.stem}](../../notebooks/{p.name})", f"{s:.0f}", "yes" if s <= TARGET_S else "no"]
        for p, s in zip(paths, seconds)
    ]
    lines += table(["notebook", "seconds", "within target"], rows, align=["---", "---:", ":---:"])
    lines += [f"| all | {sum(seconds):.0f} | |", ""]
    print("\n".join(lines))
    if not args.prefixes:  # the results file holds the whole series
        write_results("notebooks.md", lines)
