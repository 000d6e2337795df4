"""Small helpers shared by the benchmark scripts (run them as `python benchmarks/<name>.py`)."""

import os
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def task_args(argv, tuned):
    """Split a benchmark's command line into (tasks, tuned_only): `--tuned` selects the task-specific budgets in
    `tuned`, and naming a task without one there is an error that lists the valid choices."""
    args = list(argv)
    tuned_only = "--tuned" in args
    if tuned_only:
        args.remove("--tuned")
        unknown = [t for t in args if t not in tuned]
        if unknown:
            sys.exit(f"no task-specific budget for {', '.join(unknown)}; TUNED has: {', '.join(tuned)}")
    return args, tuned_only


def write_results(name, lines):
    """Write a benchmark's Markdown table to benchmarks/results/<name>."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name), "w") as fh:
        fh.write("\n".join(lines))
