"""python -m benchmarks SUITE [task ...] [--jobs N] [--threads N] [--smoke] [--out DIR] [--retrain] [suite options]

python -m benchmarks --list              # every suite and study, with what it measures
python -m benchmarks consistency -h      # one suite's arguments
python -m benchmarks consistency --smoke # every row with tiny budgets, written to a temporary folder
"""

import argparse
import importlib
import pathlib
import sys
import tempfile
import time

import torch

from benchmarks import SUITES, common, kind


def summary(module):
    """The first line of a suite's docstring: what it measures, in a line."""
    return (module.__doc__ or "").strip().splitlines()[0]


def common_options(module):
    """The options every suite takes; `module` gives the defaults (TASKS, JOBS) and says whether tasks are chosen."""
    parser = argparse.ArgumentParser(add_help=False)
    tasks = getattr(module, "TASKS", None)
    if tasks is not None:
        parser.add_argument(
            "tasks",
            nargs="*",
            default=[],
            metavar="task",
            help=f"tasks to run (default: {' '.join(tasks)}); valid: {', '.join(cm_tasks())}",
        )
    jobs = getattr(module, "JOBS", 1)
    parser.add_argument(
        "--jobs", type=int, default=jobs, help=f"processes in parallel, one thread each (default {jobs})"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads of this process (default 1)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny budgets, every row (of the first task unless tasks are named), into a temporary folder",
    )
    parser.add_argument("--out", help=f"folder to write to (default {getattr(module, 'OUT', common.RESULTS)})")
    parser.add_argument("--retrain", action="store_true", help="train every model again (overwrites benchmarks/cache)")
    return parser


def cm_tasks():
    import cm_toy

    return cm_toy.list_datasets()


def listing(modules):
    lines = []
    for title, k in (("README suites", "suite"), ("studies", "study")):
        lines.append(f"{title}:")
        lines += [f"  {name:<12} {summary(m)}" for name, m in modules.items() if kind(name) == k]
    return "\n".join(lines)


def main(argv=None):
    modules = {name: importlib.import_module(path) for name, path in SUITES.items()}
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run one benchmark suite; it writes its table to benchmarks/results/SUITE.md.",
        epilog=listing(modules),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    sub, parsers = parser.add_subparsers(dest="suite", metavar="SUITE"), {}
    for name, module in modules.items():
        p = parsers[name] = sub.add_parser(
            name,
            parents=[common_options(module)],
            help=summary(module),
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if hasattr(module, "add_arguments"):
            module.add_arguments(p)
    args = parser.parse_args(argv)
    if args.list or args.suite is None:
        print(listing(modules))
        return 0 if args.list else 2
    module, error = modules[args.suite], parsers[args.suite].error
    if args.jobs < 1 or args.threads < 1:
        error(f"--jobs and --threads must be >= 1, got {args.jobs} and {args.threads}")
    if getattr(module, "TASKS", None) is not None:
        unknown = [t for t in args.tasks if t not in cm_tasks()]
        if unknown:
            error(f"unknown task {', '.join(unknown)}; valid choices: {', '.join(cm_tasks())}")
        if not args.tasks:  # the suite's default tasks; under --smoke the first of them (every row, one task)
            args.tasks = list(module.default_tasks(args) if hasattr(module, "default_tasks") else module.TASKS)
            args.tasks = args.tasks[:1] if args.smoke else args.tasks
    if args.smoke and args.out is None:
        args.out = tempfile.mkdtemp(prefix=f"benchmarks-{args.suite}-smoke-")
    out = pathlib.Path(args.out) if args.out else getattr(module, "OUT", common.RESULTS)
    common.configure(
        out=out, cache=out / "cache" if args.smoke else common.CACHE, smoke=args.smoke, retrain=args.retrain
    )
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    module.main(args)
    print(f"{args.suite}: done in {time.perf_counter() - start:.0f} s; files in {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
